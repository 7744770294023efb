// ferry-chaos's sans-I/O core (harness/chaos/core/): the same seed and traffic give the same
// decisions however the bytes are split; each fault alone does what docs/harness.md says;
// corruption only touches a CHUNK's payload and keeps every frame well-formed; the rate cap's
// arithmetic; scenario files and schedules; settings by name. No sockets, no clock.
#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/chaos/core/connection.h"
#include "harness/chaos/core/faults.h"
#include "harness/chaos/core/prng.h"
#include "harness/chaos/core/proxy_core.h"
#include "harness/chaos/core/reframer.h"
#include "harness/chaos/core/scenario.h"
#include "proto/frame.h"
#include "proto/upload_frames.h"

using namespace ferry::chaos;
using ferry::proto::FrameType;

namespace {

constexpr uint32_t kMaxBody = 1u << 20;

std::string frame(FrameType t, const std::string& body) {
  std::string out;
  ferry::proto::encode_frame(out, t, body);
  return out;
}

// A CHUNK frame as the SDK encodes it: slot, index, checksum (here a recognizable pattern, not
// the payload's) + payload.
std::string chunk(uint64_t index, size_t payload_len) {
  ferry::proto::ChunkSum sum;
  for (size_t i = 0; i < sum.size(); i++) sum[i] = static_cast<uint8_t>(0xA0 + i);
  std::string payload;
  for (size_t i = 0; i < payload_len; i++) payload.push_back(char('a' + (index + i) % 26));
  std::string out;
  ferry::proto::encode_chunk(out, 1, index, sum, payload);
  return out;
}

// N distinct small frames of mixed types: requests, pings, chunks.
std::vector<std::string> traffic(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; i++) {
    if (i % 3 == 0)
      v.push_back(frame(FrameType::Request, "{\"op\":\"send\",\"rid\":" + std::to_string(i) + "}"));
    else if (i % 3 == 1)
      v.push_back(frame(FrameType::Ping, "p" + std::to_string(i)));
    else
      v.push_back(chunk(uint64_t(i), 100 + size_t(i)));
  }
  return v;
}

std::string concat(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x;
  return s;
}

// Splits the delivered bytes of one direction back into frames.
std::vector<std::string> frames_of(const ConnOutput& out, Dir d) {
  Reframer r(kMaxBody);
  for (const Emit& e : out.emits)
    if (e.dir == d) r.feed(e.bytes.data(), e.bytes.size());
  std::vector<std::string> v;
  Unit u;
  while (r.next(u)) {
    EXPECT_TRUE(u.framed) << "delivered stream is not well-formed frames";
    v.push_back(u.bytes);
  }
  EXPECT_EQ(r.buffered(), 0u) << "a partial frame was delivered";
  return v;
}

struct Rig {
  Faults faults;
  Stats stats;
  std::unique_ptr<ConnCore> conn;
  explicit Rig(uint64_t seed = 1, uint64_t ordinal = 0) { reset(seed, ordinal); }
  void reset(uint64_t seed, uint64_t ordinal = 0) {
    stats = Stats{};
    conn = std::make_unique<ConnCore>(faults, stats, seed, ordinal, kMaxBody);
  }
  // Feeds `bytes` in direction d in pieces of `split` bytes (0: all at once) at time t.
  void feed(ConnOutput& out, Dir d, const std::string& bytes, size_t split = 0, uint64_t t = 0) {
    if (split == 0) split = bytes.size();
    for (size_t i = 0; i < bytes.size(); i += split)
      conn->on_bytes(d, t, bytes.data() + i, std::min(split, bytes.size() - i), out);
  }
  void set(const std::string& k, const std::string& v) {
    SettingEffects fx;
    std::string err;
    ASSERT_TRUE(apply_setting(faults, k, v, fx, err)) << err;
  }
};

}  // namespace

TEST(chaos_prng, fixed_sequence_and_unit_range) {
  Prng a(42), b(42), c(43);
  uint64_t first = a.next();
  EXPECT_EQ(first, b.next());
  EXPECT_NE(first, c.next());
  for (int i = 0; i < 10000; i++) {
    double u = a.unit();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  EXPECT_NE(connection_seed(7, 0), connection_seed(7, 1));
  EXPECT_EQ(connection_seed(7, 3), connection_seed(7, 3));
}

TEST(chaos_reframer, any_split_gives_the_same_frames) {
  auto t = traffic(20);
  std::string all = concat(t);
  for (size_t split : {1u, 3u, 5u, 7u, 64u, 100000u}) {
    Reframer r(kMaxBody);
    std::vector<std::string> got;
    Unit u;
    for (size_t i = 0; i < all.size(); i += split) {
      r.feed(all.data() + i, std::min(split, all.size() - i));
      while (r.next(u)) {
        ASSERT_TRUE(u.framed);
        got.push_back(u.bytes);
      }
    }
    EXPECT_EQ(got, t) << "split " << split;
  }
}

TEST(chaos_reframer, non_ferry_stream_falls_back_to_raw_chunks) {
  Reframer r(kMaxBody);
  std::string http = "GET /files/abc HTTP/1.1\r\nHost: x\r\n\r\n";
  r.feed(http.data(), http.size());
  Unit u;
  ASSERT_TRUE(r.next(u));
  EXPECT_FALSE(u.framed);
  EXPECT_EQ(u.bytes, http);
  EXPECT_TRUE(r.raw());
  EXPECT_NE(r.raw_reason().find("unknown frame type"), std::string::npos);
  // A valid type with a length above the bound is not trusted either.
  Reframer big(1000);
  std::string h = "\x00\x00\x10\x00\x02";  // 4096 > 1000
  big.feed(h.data(), 5);
  ASSERT_TRUE(big.next(u));
  EXPECT_FALSE(u.framed);
}

TEST(chaos_conn, no_faults_passes_bytes_through_at_once) {
  Rig rig;
  ConnOutput out;
  std::string all = concat(traffic(30));
  rig.feed(out, Dir::Up, all, 13, 5000);
  std::string got;
  for (const Emit& e : out.emits) {
    EXPECT_EQ(e.at_us, 5000u);
    got += e.bytes;
  }
  EXPECT_EQ(got, all);
  EXPECT_FALSE(out.cut);
  EXPECT_TRUE(out.log.empty());
  EXPECT_EQ(rig.stats.dir[0].frames, 30u);
  EXPECT_EQ(rig.stats.dir[0].bytes_out, all.size());
}

TEST(chaos_conn, same_seed_same_traffic_same_decisions_whatever_the_split) {
  auto run = [](uint64_t seed, size_t split, bool interleave) {
    Rig rig(seed, 3);
    rig.set("drop", "0.1");
    rig.set("dup", "0.1");
    rig.set("reorder", "0.1");
    rig.set("corrupt", "0.2");
    rig.set("delay", "10:30");
    ConnOutput out;
    auto t = traffic(300);
    // Interleaving the directions differently must not change either direction's decisions.
    for (size_t i = 0; i < t.size(); i++) {
      if (interleave) rig.feed(out, Dir::Down, t[i], split, i * 1000);
      rig.feed(out, Dir::Up, t[i], split, i * 1000);
    }
    if (!interleave)
      for (size_t i = 0; i < t.size(); i++) rig.feed(out, Dir::Down, t[i], split, i * 1000);
    std::vector<std::pair<uint64_t, std::string>> up, down;
    for (const Emit& e : out.emits) (e.dir == Dir::Up ? up : down).push_back({e.at_us, e.bytes});
    return std::make_tuple(up, down, rig.stats.dir[0].drop + rig.stats.dir[0].dup);
  };
  auto a = run(99, 0, true);
  auto b = run(99, 7, false);
  EXPECT_EQ(std::get<0>(a), std::get<0>(b));
  EXPECT_EQ(std::get<1>(a), std::get<1>(b));
  EXPECT_GT(std::get<2>(a), 0u);
  auto c = run(100, 0, true);
  EXPECT_NE(std::get<0>(a), std::get<0>(c)) << "another seed should decide differently";
}

TEST(chaos_conn, connection_ordinal_changes_the_decisions) {
  auto drops = [](uint64_t ordinal) {
    Rig rig(5, ordinal);
    rig.set("drop", "0.5");
    ConnOutput out;
    rig.feed(out, Dir::Up, concat(traffic(64)));
    return frames_of(out, Dir::Up);
  };
  EXPECT_EQ(drops(1), drops(1));
  EXPECT_NE(drops(1), drops(2));
}

TEST(chaos_conn, drop_alone_removes_whole_frames_in_order) {
  Rig rig(11);
  rig.set("up_drop", "0.3");
  ConnOutput out;
  auto t = traffic(200);
  rig.feed(out, Dir::Up, concat(t), 17);
  rig.feed(out, Dir::Down, concat(t), 17);
  auto got = frames_of(out, Dir::Up);
  EXPECT_EQ(got.size() + rig.stats.dir[0].drop, t.size());
  EXPECT_GT(rig.stats.dir[0].drop, 30u);
  EXPECT_LT(rig.stats.dir[0].drop, 100u);
  // The survivors are a subsequence of the input, in order.
  size_t j = 0;
  for (const auto& f : got) {
    while (j < t.size() && t[j] != f) j++;
    ASSERT_LT(j, t.size()) << "frame out of order or altered";
    j++;
  }
  EXPECT_EQ(frames_of(out, Dir::Down), t) << "--up-drop must not touch the down direction";
  EXPECT_EQ(rig.stats.dir[1].drop, 0u);
  EXPECT_EQ(out.log.size(), rig.stats.dir[0].drop);
}

TEST(chaos_conn, dup_alone_repeats_a_frame_right_after_itself) {
  Rig rig(12);
  rig.set("dup", "0.25");
  ConnOutput out;
  auto t = traffic(100);
  rig.feed(out, Dir::Down, concat(t));
  auto got = frames_of(out, Dir::Down);
  EXPECT_EQ(got.size(), t.size() + rig.stats.dir[1].dup);
  EXPECT_GT(rig.stats.dir[1].dup, 5u);
  size_t j = 0;
  for (const auto& f : t) {
    ASSERT_LT(j, got.size());
    EXPECT_EQ(got[j++], f);
    if (j < got.size() && got[j] == f) j++;  // its duplicate
  }
  EXPECT_EQ(j, got.size());
}

TEST(chaos_conn, reorder_holds_a_frame_behind_one_to_three_successors) {
  Rig rig(13);
  rig.set("reorder", "0.2");
  ConnOutput out;
  auto t = traffic(150);
  for (size_t i = 0; i < t.size(); i++) rig.feed(out, Dir::Up, t[i], 0, i);
  // Let a frame still held at the end go on its timer.
  rig.conn->on_timer(1000 * 1000, out);
  EXPECT_EQ(rig.conn->next_timer_us(), UINT64_MAX);
  auto got = frames_of(out, Dir::Up);
  ASSERT_EQ(got.size(), t.size());
  EXPECT_GT(rig.stats.dir[0].reorder, 5u);
  EXPECT_NE(got, t);
  auto sorted_t = t, sorted_g = got;
  std::sort(sorted_t.begin(), sorted_t.end());
  std::sort(sorted_g.begin(), sorted_g.end());
  EXPECT_EQ(sorted_g, sorted_t) << "reorder must neither lose nor invent frames";
  // No frame moved more than 3 places.
  for (size_t i = 0; i < t.size(); i++) {
    size_t at = size_t(std::find(got.begin(), got.end(), t[i]) - got.begin());
    EXPECT_LE(at, i + 3) << "frame " << i;
  }
}

TEST(chaos_conn, reordered_frame_is_released_by_its_timer_when_traffic_stops) {
  Rig rig(14);
  rig.set("reorder", "1");
  rig.set("reorder_ms", "50");
  ConnOutput out;
  std::string f = frame(FrameType::Ping, "x");
  rig.feed(out, Dir::Up, f, 0, 1000);
  EXPECT_TRUE(out.emits.empty());
  EXPECT_EQ(rig.conn->next_timer_us(), 1000u + 50000u);
  rig.conn->on_timer(50999, out);
  EXPECT_TRUE(out.emits.empty());
  rig.conn->on_timer(51000, out);
  ASSERT_EQ(out.emits.size(), 1u);
  EXPECT_EQ(out.emits[0].bytes, f);
  EXPECT_EQ(out.emits[0].at_us, 51000u);
}

TEST(chaos_conn, corrupt_flips_only_chunk_payload_and_frames_stay_well_formed) {
  Rig rig(15);
  rig.set("corrupt", "1");
  ConnOutput out;
  auto t = traffic(90);
  t.push_back(chunk(7, 0));  // a CHUNK with no payload: nothing to corrupt
  t.push_back(chunk(8, 1));  // one payload byte, right after the prefix: it must change
  t.push_back(chunk(9, 16));
  ASSERT_EQ(t[t.size() - 2].size(), kChunkPayloadOffset + 1) << "offset = the real CHUNK prefix";
  rig.feed(out, Dir::Up, concat(t), 29);
  auto got = frames_of(out, Dir::Up);
  ASSERT_EQ(got.size(), t.size());
  uint64_t changed = 0;
  for (size_t i = 0; i < t.size(); i++) {
    ASSERT_EQ(got[i].size(), t[i].size());
    bool is_chunk = uint8_t(t[i][4]) == uint8_t(FrameType::Chunk);
    if (!is_chunk || t[i].size() <= kChunkPayloadOffset) {
      EXPECT_EQ(got[i], t[i]) << "frame " << i << " is not a CHUNK with payload";
      continue;
    }
    EXPECT_EQ(got[i].substr(0, kChunkPayloadOffset), t[i].substr(0, kChunkPayloadOffset))
        << "header and slot/index/checksum prefix must stay intact";
    EXPECT_NE(got[i].substr(kChunkPayloadOffset), t[i].substr(kChunkPayloadOffset));
    changed++;
  }
  EXPECT_EQ(changed, 32u);
  EXPECT_EQ(rig.stats.dir[0].corrupt, 32u);
}

TEST(chaos_conn, delay_and_jitter_keep_the_stream_in_order) {
  Rig rig(16);
  rig.set("delay", "100:50");
  ConnOutput out;
  auto t = traffic(100);
  for (size_t i = 0; i < t.size(); i++) rig.feed(out, Dir::Down, t[i], 0, i * 10);
  ASSERT_EQ(out.emits.size(), t.size());
  uint64_t prev = 0;
  bool some_jitter = false;
  for (size_t i = 0; i < t.size(); i++) {
    const Emit& e = out.emits[i];
    EXPECT_EQ(e.bytes, t[i]);
    EXPECT_GE(e.at_us, i * 10 + 100000);
    EXPECT_GE(e.at_us, prev) << "delivery times must never go back";
    // Within delay + jitter, or held behind an earlier frame's jitter.
    EXPECT_TRUE(e.at_us <= i * 10 + 150000 || e.at_us == prev);
    some_jitter = some_jitter || e.at_us > i * 10 + 110000;
    prev = e.at_us;
  }
  EXPECT_TRUE(some_jitter);
  EXPECT_EQ(rig.stats.dir[1].delayed, t.size());
}

TEST(chaos_conn, rate_cap_spaces_deliveries_by_size_over_rate) {
  Rig rig(17);
  rig.set("rate", "1000");  // bytes per second
  ConnOutput out;
  std::string f = frame(FrameType::Ping, std::string(95, 'x'));  // 100 bytes with the header
  for (int i = 0; i < 10; i++) rig.feed(out, Dir::Up, f, 0, 0);
  ASSERT_EQ(out.emits.size(), 10u);
  for (int i = 0; i < 10; i++) EXPECT_EQ(out.emits[size_t(i)].at_us, uint64_t(i + 1) * 100000);
  EXPECT_EQ(rig.stats.dir[0].rate_limited, 9u);
  // After an idle second the link is free again: the next frame only pays its own time.
  rig.feed(out, Dir::Up, f, 0, 3000000);
  EXPECT_EQ(out.emits.back().at_us, 3100000u);
}

TEST(chaos_conn, cut_after_bytes_forwards_exactly_n_bytes_then_cuts) {
  Rig rig(18);
  rig.set("up_cut_after_bytes", "1000");
  ConnOutput out;
  std::string all = concat(traffic(100));
  ASSERT_GT(all.size(), 1000u);
  rig.feed(out, Dir::Up, all, 0, 77);
  std::string got;
  for (const Emit& e : out.emits) got += e.bytes;
  EXPECT_EQ(got, all.substr(0, 1000));
  EXPECT_TRUE(out.cut);
  EXPECT_EQ(out.cut_at_us, 77u);
  EXPECT_TRUE(rig.conn->is_cut());
  EXPECT_EQ(rig.stats.dir[0].cut, 1u);
  ConnOutput later;
  rig.feed(later, Dir::Down, all);
  EXPECT_TRUE(later.emits.empty()) << "nothing moves after a cut";
}

TEST(chaos_conn, cut_after_frames_and_cut_prob) {
  Rig rig(19);
  rig.set("down_cut_after_frames", "5");
  ConnOutput out;
  auto t = traffic(20);
  rig.feed(out, Dir::Down, concat(t));
  EXPECT_EQ(frames_of(out, Dir::Down), std::vector<std::string>(t.begin(), t.begin() + 5));
  EXPECT_TRUE(out.cut);

  Rig certain(20);
  certain.set("cut_prob", "1");
  ConnOutput o2;
  certain.feed(o2, Dir::Up, concat(t));
  EXPECT_TRUE(o2.emits.empty());
  EXPECT_TRUE(o2.cut);

  // With a small probability the cut comes at a frame chosen by the seed, the same each time.
  auto where = [&](uint64_t seed) {
    Rig r(seed);
    r.set("cut_prob", "0.05");
    ConnOutput o;
    r.feed(o, Dir::Up, concat(traffic(400)));
    return std::make_pair(o.cut, frames_of(o, Dir::Up).size());
  };
  EXPECT_EQ(where(21), where(21));
  EXPECT_TRUE(where(21).first);
}

TEST(chaos_conn, blackhole_goes_silent_without_cutting) {
  Rig rig(22);
  rig.set("down_blackhole_after_bytes", "500");
  ConnOutput out;
  std::string all = concat(traffic(50));
  rig.feed(out, Dir::Down, all, 11);
  rig.feed(out, Dir::Up, all, 11);
  std::string down, up;
  for (const Emit& e : out.emits) (e.dir == Dir::Down ? down : up) += e.bytes;
  EXPECT_EQ(down, all.substr(0, 500));
  EXPECT_EQ(up, all) << "the other direction keeps flowing";
  EXPECT_FALSE(out.cut);
  EXPECT_TRUE(rig.conn->blackholed(Dir::Down));
  EXPECT_FALSE(rig.conn->blackholed(Dir::Up));
  EXPECT_EQ(rig.stats.dir[1].blackhole, 1u);
  EXPECT_EQ(rig.stats.dir[1].blackholed_bytes + 500, all.size());
}

TEST(chaos_conn, blackhole_after_frames_swallows_whole_frames) {
  Rig rig(25);
  rig.set("up_blackhole_after_frames", "3");
  ConnOutput out;
  auto t = traffic(10);
  rig.feed(out, Dir::Up, concat(t), 9);
  EXPECT_EQ(frames_of(out, Dir::Up), std::vector<std::string>(t.begin(), t.begin() + 3));
  EXPECT_TRUE(rig.conn->blackholed(Dir::Up));
  EXPECT_FALSE(out.cut);
  EXPECT_EQ(rig.stats.dir[0].blackhole, 1u);
}

TEST(chaos_conn, raw_streams_get_only_stream_safe_faults) {
  Rig rig(23);
  rig.set("drop", "1");
  rig.set("dup", "1");
  rig.set("corrupt", "1");
  rig.set("delay", "5");
  ConnOutput out;
  std::string http = "HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\nabc";
  rig.feed(out, Dir::Down, http, 10);
  std::string got;
  for (const Emit& e : out.emits) {
    got += e.bytes;
    EXPECT_GE(e.at_us, 5000u);
  }
  EXPECT_EQ(got, http);
  EXPECT_TRUE(rig.conn->raw(Dir::Down));
  EXPECT_EQ(rig.stats.dir[1].drop, 0u);
}

TEST(chaos_conn, settings_changed_mid_connection_apply_to_later_frames) {
  Rig rig(24);
  ConnOutput out;
  auto t = traffic(10);
  rig.feed(out, Dir::Up, concat(t));
  rig.set("up_drop", "1");
  rig.feed(out, Dir::Up, concat(t));
  EXPECT_EQ(frames_of(out, Dir::Up), t);
}

TEST(chaos_settings, names_prefixes_and_errors) {
  Faults f;
  SettingEffects fx;
  std::string err;
  EXPECT_TRUE(apply_setting(f, "down-drop", "0.25", fx, err)) << err;
  EXPECT_EQ(f.down().drop, 0.25);
  EXPECT_EQ(f.up().drop, 0.0);
  EXPECT_TRUE(apply_setting(f, "delay", "40:15", fx, err));
  EXPECT_EQ(f.up().delay_ms, 40u);
  EXPECT_EQ(f.down().jitter_ms, 15u);
  EXPECT_TRUE(apply_setting(f, "up_rate", "1000000", fx, err));
  EXPECT_EQ(f.up().rate, 1000000u);
  EXPECT_EQ(f.down().rate, 0u);
  EXPECT_FALSE(apply_setting(f, "drop", "1.5", fx, err));
  EXPECT_NE(err.find("probability"), std::string::npos);
  EXPECT_FALSE(apply_setting(f, "rate", "-3", fx, err));
  EXPECT_FALSE(apply_setting(f, "delay", "abc", fx, err));
  EXPECT_FALSE(apply_setting(f, "dorp", "0.1", fx, err));
  EXPECT_NE(err.find("unknown setting"), std::string::npos);
  EXPECT_TRUE(apply_setting(f, "refuse_ms", "250", fx, err));
  EXPECT_EQ(fx.refuse_ms, 250);
  EXPECT_TRUE(apply_setting(f, "cut_now", "true", fx, err));
  EXPECT_TRUE(fx.cut_now);
  EXPECT_TRUE(apply_setting(f, "clear", "true", fx, err));
  EXPECT_EQ(f.down().drop, 0.0);
  EXPECT_EQ(f.up().delay_ms, 0u);
}

TEST(chaos_scenario, parses_settings_and_sorted_schedule) {
  Scenario sc;
  std::string err;
  ASSERT_TRUE(parse_scenario(R"({"name":"x","seed":7,"set":{"down_drop":0.05,"delay":"20:5"},
      "schedule":[{"at_ms":5000,"set":{"cut_now":true}},{"at_ms":2000,"set":{"down_drop":0.1}}]})",
                             sc, err))
      << err;
  EXPECT_EQ(sc.name, "x");
  EXPECT_TRUE(sc.has_seed);
  EXPECT_EQ(sc.seed, 7u);
  ASSERT_EQ(sc.set.size(), 2u);
  EXPECT_EQ(sc.set[0], std::make_pair(std::string("down_drop"), std::string("0.050000000000000003")));
  ASSERT_EQ(sc.schedule.size(), 2u);
  EXPECT_EQ(sc.schedule[0].at_ms, 2000u);
  EXPECT_EQ(sc.schedule[1].set[0].second, "true");
  EXPECT_FALSE(parse_scenario(R"({"set":{"dorp":0.1}})", sc, err));
  EXPECT_NE(err.find("dorp"), std::string::npos);
  EXPECT_FALSE(parse_scenario(R"({"schedule":[{"set":{}}]})", sc, err));
  EXPECT_FALSE(parse_scenario(R"({"sed":1})", sc, err));
  EXPECT_FALSE(parse_scenario("not json", sc, err));
}

TEST(chaos_scenario, schedule_steps_apply_at_their_time) {
  Scenario sc;
  std::string err;
  ASSERT_TRUE(parse_scenario(R"({"schedule":[{"at_ms":2000,"set":{"down_drop":0.1}},
      {"at_ms":5000,"set":{"cut_now":true,"refuse_ms":1000}}]})", sc, err)) << err;
  ProxyConfig cfg;
  cfg.schedule = sc.schedule;
  cfg.refuse_ms = 100;
  uint64_t t0 = 1000000;
  ProxyCore core(cfg, t0);
  std::vector<std::string> log;
  EXPECT_EQ(core.accept(t0 + 50000, log), nullptr) << "refusing for the first 100 ms";
  auto conn = core.accept(t0 + 150000, log);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->ordinal(), 0u);
  EXPECT_EQ(core.next_tick_us(), t0 + 2000000);
  ProxyActions act;
  core.tick(t0 + 1999000, act);
  EXPECT_EQ(core.faults().down().drop, 0.0);
  core.tick(t0 + 2000000, act);
  EXPECT_EQ(core.faults().down().drop, 0.1);
  EXPECT_FALSE(act.cut_all);
  core.tick(t0 + 5000000, act);
  EXPECT_TRUE(act.cut_all);
  EXPECT_TRUE(core.refusing(t0 + 5500000));
  EXPECT_FALSE(core.refusing(t0 + 6000000));
  EXPECT_EQ(core.next_tick_us(), UINT64_MAX);
  EXPECT_EQ(core.stats().refused, 1u);
  EXPECT_EQ(core.stats().schedule_steps, 2u);
  // The live setting reaches open connections: the next down frame of conn 0 sees drop 0.1.
  std::string summary = core.summary_json(t0 + 6000000);
  EXPECT_NE(summary.find("\"refused\":1"), std::string::npos) << summary;
}

TEST(chaos_scenario, every_fixture_file_parses) {
  std::string dir = std::string(FERRY_SOURCE_DIR) + "/fixtures/scenarios";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  int n = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    std::ifstream f(dir + "/" + name);
    std::stringstream ss;
    ss << f.rdbuf();
    Scenario sc;
    std::string err;
    EXPECT_TRUE(parse_scenario(ss.str(), sc, err)) << name << ": " << err;
    n++;
  }
  closedir(d);
  EXPECT_GE(n, 3);
}
