// Unit tests of ferry-link's sans-I/O core (harness/link/core): the spec parser and the
// per-direction packet scheduler. Everything runs on a virtual clock in microseconds: packets
// carry their number in the first four bytes, the test feeds them in at chosen times and
// records when each comes out (the core's poll_timeout() at the moment it is released). What
// it proves: one seed gives one outcome, whatever the polling; loss rates fall within
// statistical bounds; Gilbert-Elliott loss comes in bursts of the expected mean length;
// delay and jitter keep order while `reorder` breaks it; the rate cap spaces packets exactly
// and tail-drops past its queue limit; duplication makes adjacent copies.
#include "harness/link/core/link_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "harness/link/core/spec.h"

using ferry::link::format_link_spec;
using ferry::link::LinkCore;
using ferry::link::LinkSpec;
using ferry::link::parse_link_spec;

namespace {

LinkSpec spec_of(const char* text) {
  LinkSpec s;
  std::string err;
  EXPECT_TRUE(parse_link_spec(text, s, err)) << text << ": " << err;
  return s;
}

struct Out {
  uint64_t at_us;
  uint32_t id;
  size_t size;
};

std::vector<uint8_t> packet(uint32_t id, size_t size) {
  std::vector<uint8_t> p(std::max<size_t>(size, 4), 0xab);
  std::memcpy(p.data(), &id, 4);
  return p;
}

// Releases everything due up to `until_us`, stepping the clock to each release time.
void drain(LinkCore& core, uint64_t until_us, std::vector<Out>& out) {
  std::vector<uint8_t> p;
  while (core.poll_timeout() <= until_us) {
    uint64_t t = core.poll_timeout();
    while (core.poll_timeout() == t && core.poll_send(t, p)) {
      uint32_t id;
      std::memcpy(&id, p.data(), 4);
      out.push_back({t, id, p.size()});
    }
  }
}

// Feeds `n` packets of `size` bytes, one every `gap_us` from t=0, and drains to the end.
std::vector<Out> run(LinkCore& core, uint32_t n, uint64_t gap_us, size_t size = 1000) {
  std::vector<Out> out;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t t = i * gap_us;
    drain(core, t, out);
    std::vector<uint8_t> p = packet(i, size);
    core.recv(t, p.data(), p.size());
  }
  drain(core, UINT64_MAX - 1, out);
  return out;
}

std::vector<uint32_t> ids(const std::vector<Out>& out) {
  std::vector<uint32_t> v;
  for (const Out& o : out) v.push_back(o.id);
  return v;
}

}  // namespace

TEST(link_spec, parses_netem_words) {
  LinkSpec s = spec_of(
      "delay 20ms 5ms loss 1% duplicate 0.5% reorder 10% rate 100mbit "
      "burst 64kb limit 200 drop-first 2");
  EXPECT_EQ(s.delay_us, 20000u);
  EXPECT_EQ(s.jitter_us, 5000u);
  EXPECT_DOUBLE_EQ(s.loss, 0.01);
  EXPECT_DOUBLE_EQ(s.duplicate, 0.005);
  EXPECT_DOUBLE_EQ(s.reorder, 0.10);
  EXPECT_EQ(s.rate_bps, 100000000u);
  EXPECT_EQ(s.burst_bytes, 65536u);
  EXPECT_EQ(s.limit, 200u);
  EXPECT_EQ(s.drop_first, 2u);
  EXPECT_FALSE(s.gemodel);
  EXPECT_EQ(spec_of("rate 2mbps").rate_bps, 16000000u);
  EXPECT_EQ(spec_of("delay 500us").delay_us, 500u);
  EXPECT_EQ(spec_of("delay 1s").delay_us, 1000000u);
  EXPECT_EQ(spec_of(""), LinkSpec{});
}

TEST(link_spec, parses_gemodel_with_defaults) {
  LinkSpec s = spec_of("loss gemodel 1%");
  EXPECT_TRUE(s.gemodel);
  EXPECT_DOUBLE_EQ(s.ge_p, 0.01);
  EXPECT_DOUBLE_EQ(s.ge_r, 0.99);
  EXPECT_DOUBLE_EQ(s.ge_bad_loss, 1.0);
  EXPECT_DOUBLE_EQ(s.ge_good_loss, 0.0);
  s = spec_of("loss gemodel 2% 30% 50% 0.1% delay 5ms");
  EXPECT_DOUBLE_EQ(s.ge_r, 0.30);
  EXPECT_DOUBLE_EQ(s.ge_bad_loss, 0.50);
  EXPECT_DOUBLE_EQ(s.ge_good_loss, 0.001);
  EXPECT_EQ(s.delay_us, 5000u);
}

TEST(link_spec, refuses_bad_words) {
  LinkSpec s;
  std::string err;
  for (const char* bad :
       {"delay", "delay 20", "delay 20parsecs", "loss 1", "loss 101%", "loss gemodel", "rate 100",
        "rate fast", "limit", "jitter 5ms", "loss gemodel 1% 0%", "delay -5ms", "drop-first",
        "drop-first x"}) {
    EXPECT_FALSE(parse_link_spec(bad, s, err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  EXPECT_FALSE(parse_link_spec("delay 10ms lose 1%", s, err));
  EXPECT_NE(err.find("lose"), std::string::npos) << err;
}

TEST(link_spec, format_parses_back) {
  for (const char* text :
       {"delay 20ms 5ms loss 1% rate 100mbit", "loss gemodel 1% 25% 100% 0%",
        "duplicate 2% reorder 25% delay 10ms", "rate 512kbit burst 3000b limit 50",
        "delay 5ms drop-first 1", ""}) {
    LinkSpec s = spec_of(text);
    EXPECT_EQ(spec_of(format_link_spec(s).c_str()), s) << text << " -> " << format_link_spec(s);
  }
}

TEST(link_core, same_seed_same_fate) {
  LinkSpec s = spec_of("delay 20ms 5ms loss 5% duplicate 2% reorder 5% rate 50mbit");
  LinkCore a(s, 42), b(s, 42), c(s, 43);
  std::vector<Out> oa = run(a, 5000, 150), ob = run(b, 5000, 150), oc = run(c, 5000, 150);
  ASSERT_EQ(oa.size(), ob.size());
  for (size_t i = 0; i < oa.size(); i++) {
    EXPECT_EQ(oa[i].id, ob[i].id);
    EXPECT_EQ(oa[i].at_us, ob[i].at_us);
  }
  EXPECT_NE(ids(oa), ids(oc)) << "another seed should decide differently";
}

TEST(link_core, fate_does_not_depend_on_polling) {
  // The same arrivals drained lazily (every 7 ms) rather than at each release must give each
  // packet the same release time.
  LinkSpec s = spec_of("delay 10ms 3ms loss 3% duplicate 3% reorder 10% rate 20mbit");
  LinkCore eager(s, 7), lazy(s, 7);
  std::vector<Out> oe = run(eager, 3000, 200);
  std::vector<Out> ol;
  std::vector<uint8_t> p;
  for (uint32_t i = 0; i < 3000; i++) {
    uint64_t t = i * 200;
    if (t % 7000 == 0) drain(lazy, t, ol);
    std::vector<uint8_t> pk = packet(i, 1000);
    lazy.recv(t, pk.data(), pk.size());
  }
  drain(lazy, UINT64_MAX - 1, ol);
  auto key = [](std::vector<Out> v) {
    std::vector<std::pair<uint64_t, uint32_t>> k;
    for (const Out& o : v) k.push_back({o.at_us, o.id});
    std::sort(k.begin(), k.end());
    return k;
  };
  EXPECT_EQ(key(oe), key(ol));
}

TEST(link_core, random_loss_within_bounds) {
  LinkCore core(spec_of("loss 1%"), 1);
  std::vector<Out> out = run(core, 100000, 10);
  const auto& st = core.stats();
  // Binomial(100000, 0.01): mean 1000, sd 31.5; 5 sd either way.
  EXPECT_GT(st.drop_random, 842u);
  EXPECT_LT(st.drop_random, 1158u);
  EXPECT_EQ(st.drop_burst, 0u);
  EXPECT_EQ(out.size() + st.drop_random, 100000u);
  EXPECT_EQ(st.packets_out, out.size());
  EXPECT_EQ(ids(out), [&] {  // no delay: survivors come out at once, in order
    auto v = ids(out);
    std::sort(v.begin(), v.end());
    return v;
  }());
}

// Lengths of the runs of consecutive lost packet numbers.
std::vector<size_t> loss_runs(const std::vector<Out>& out, uint32_t n) {
  std::vector<bool> arrived(n, false);
  for (const Out& o : out) arrived[o.id] = true;
  std::vector<size_t> runs;
  size_t cur = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!arrived[i]) {
      cur++;
    } else if (cur) {
      runs.push_back(cur);
      cur = 0;
    }
  }
  if (cur) runs.push_back(cur);
  return runs;
}

TEST(link_core, gilbert_elliott_losses_come_in_bursts) {
  // p = 1%, r = 25%, everything lost in the bad state: the chain is bad 1/26 of the time
  // (3.85% loss) and a bad spell lasts 1/r = 4 packets on average.
  const uint32_t n = 200000;
  LinkCore ge(spec_of("loss gemodel 1% 25% 100% 0%"), 3);
  std::vector<Out> out = run(ge, n, 5);
  const auto& st = ge.stats();
  double rate = double(st.drop_burst) / n;
  EXPECT_GT(rate, 0.030);
  EXPECT_LT(rate, 0.047);
  EXPECT_EQ(st.drop_random, 0u);
  std::vector<size_t> runs = loss_runs(out, n);
  double mean = 0;
  for (size_t r : runs) mean += double(r);
  mean /= double(runs.size());
  EXPECT_GT(mean, 3.4);
  EXPECT_LT(mean, 4.6);

  // Random loss at the same rate has runs of about 1 / (1 - 0.0385) = 1.04.
  LinkCore bern(spec_of("loss 3.85%"), 3);
  std::vector<size_t> bruns = loss_runs(run(bern, n, 5), n);
  double bmean = 0;
  for (size_t r : bruns) bmean += double(r);
  bmean /= double(bruns.size());
  EXPECT_LT(bmean, 1.1);
}

TEST(link_core, delay_and_jitter_keep_order) {
  LinkCore core(spec_of("delay 20ms 5ms"), 9);
  std::vector<Out> out = run(core, 2000, 1000);
  ASSERT_EQ(out.size(), 2000u);
  for (size_t i = 0; i < out.size(); i++) {
    EXPECT_EQ(out[i].id, i);                    // jitter never reorders
    EXPECT_GE(out[i].at_us, i * 1000 + 15000);  // at least delay - jitter
    if (i) {
      EXPECT_GE(out[i].at_us, out[i - 1].at_us);
    }
  }
  // The jitter really varies the delay: not every packet takes exactly 20 ms.
  size_t exact = 0;
  for (size_t i = 0; i < out.size(); i++) exact += out[i].at_us == i * 1000 + 20000;
  EXPECT_LT(exact, out.size() / 2);
  EXPECT_EQ(core.stats().delayed, 2000u);
}

TEST(link_core, poll_timeout_names_the_next_release) {
  LinkCore core(spec_of("delay 20ms"), 1);
  EXPECT_EQ(core.poll_timeout(), UINT64_MAX);
  std::vector<uint8_t> p = packet(0, 100), out;
  core.recv(1000, p.data(), p.size());
  EXPECT_EQ(core.poll_timeout(), 21000u);
  EXPECT_FALSE(core.poll_send(20999, out));
  EXPECT_TRUE(core.poll_send(21000, out));
  EXPECT_EQ(out, p);
  EXPECT_EQ(core.poll_timeout(), UINT64_MAX);
}

TEST(link_core, reorder_lets_packets_overtake) {
  LinkCore core(spec_of("delay 10ms reorder 25%"), 5);
  std::vector<Out> out = run(core, 4000, 1000);
  ASSERT_EQ(out.size(), 4000u);
  const auto& st = core.stats();
  EXPECT_GT(st.reordered, 800u);  // 25% of 4000 = 1000, sd 27
  EXPECT_LT(st.reordered, 1200u);
  size_t inversions = 0;
  for (size_t i = 1; i < out.size(); i++) inversions += out[i].id < out[i - 1].id;
  EXPECT_GT(inversions, 500u);
  // A reordered packet leaves at its arrival time: a release with no delay at all.
  size_t immediate = 0;
  for (const Out& o : out) immediate += o.at_us == uint64_t(o.id) * 1000;
  EXPECT_EQ(immediate, st.reordered);
  EXPECT_EQ(st.delayed, 4000u - st.reordered);
}

TEST(link_core, reorder_needs_a_delay) {
  LinkCore core(spec_of("reorder 50%"), 5);
  std::vector<Out> out = run(core, 1000, 100);
  EXPECT_EQ(core.stats().reordered, 0u);
  for (size_t i = 0; i < out.size(); i++) EXPECT_EQ(out[i].id, i);
}

TEST(link_core, rate_cap_spaces_packets) {
  // 8 mbit/s = 1 byte per microsecond; a 1000-byte packet takes 1000 us. The bucket starts
  // with one MTU (1500 bytes) of credit: packet 0 leaves at once, packet 1 after the 500
  // bytes it lacks, every later one 1000 us after the one before.
  LinkCore core(spec_of("rate 8mbit"), 1);
  std::vector<Out> out = run(core, 100, 0, 1000);
  ASSERT_EQ(out.size(), 100u);
  EXPECT_EQ(out[0].at_us, 0u);
  for (size_t i = 1; i < out.size(); i++) {
    EXPECT_EQ(out[i].id, i);
    EXPECT_EQ(out[i].at_us, 500 + (i - 1) * 1000) << i;
  }
}

TEST(link_core, rate_cap_then_delay) {
  // Arrivals at half the link's speed do not queue: each leaves the cap on arrival and the
  // delay line 5 ms later.
  LinkCore core(spec_of("rate 8mbit delay 5ms"), 1);
  std::vector<Out> out = run(core, 50, 2000, 1000);
  ASSERT_EQ(out.size(), 50u);
  for (size_t i = 0; i < out.size(); i++) EXPECT_EQ(out[i].at_us, i * 2000 + 5000);
}

TEST(link_core, rate_cap_measured_throughput) {
  // A sender twice as fast as a 4 mbit/s link for 2 s of virtual time: what gets through
  // matches the cap within one packet, and the rest waits or is tail-dropped.
  LinkCore core(spec_of("rate 4mbit limit 100"), 1);
  std::vector<Out> out = run(core, 2000, 1000, 1000);  // 8 mbit/s offered
  ASSERT_FALSE(out.empty());
  uint64_t bytes_by_2s = 0;
  for (const Out& o : out) bytes_by_2s += o.at_us <= 2000000 ? o.size : 0;
  EXPECT_GE(bytes_by_2s, 999000u);  // 4 mbit/s * 2 s = 1,000,000 bytes (+ the first burst)
  EXPECT_LE(bytes_by_2s, 1002000u);
  EXPECT_GT(core.stats().drop_rate, 800u);
  for (size_t i = 1; i < out.size(); i++) EXPECT_GT(out[i].id, out[i - 1].id);
}

TEST(link_core, rate_queue_tail_drops_at_limit) {
  LinkCore core(spec_of("rate 1mbit limit 1000"), 1);
  std::vector<Out> out = run(core, 2000, 0, 1000);
  // Packet 0 leaves at t=0 and so no longer waits when packet 1 comes; then 1000 wait and
  // the other 999 find the queue full.
  EXPECT_EQ(core.stats().drop_rate, 999u);
  EXPECT_EQ(out.size(), 1001u);
  for (size_t i = 0; i < out.size(); i++) EXPECT_EQ(out[i].id, i);  // the tail was dropped
}

TEST(link_core, burst_lets_a_flight_through) {
  // A 64 KiB bucket passes 64 back-to-back 1000-byte packets at once, then throttles.
  LinkCore core(spec_of("rate 8mbit burst 64kb"), 1);
  std::vector<Out> out = run(core, 100, 0, 1000);
  ASSERT_EQ(out.size(), 100u);
  EXPECT_EQ(out[64].at_us, 0u);
  EXPECT_GT(out[66].at_us, 0u);
}

TEST(link_core, duplicates_are_adjacent_copies) {
  LinkCore core(spec_of("duplicate 10% delay 1ms"), 11);
  std::vector<Out> out = run(core, 10000, 100);
  const auto& st = core.stats();
  EXPECT_GT(st.duplicated, 850u);  // sd 30
  EXPECT_LT(st.duplicated, 1150u);
  EXPECT_EQ(out.size(), 10000u + st.duplicated);
  EXPECT_EQ(st.packets_out, out.size());
  size_t twins = 0;
  for (size_t i = 1; i < out.size(); i++) {
    EXPECT_GE(out[i].id, out[i - 1].id);
    twins += out[i].id == out[i - 1].id;
  }
  EXPECT_EQ(twins, st.duplicated);
}

TEST(link_core, hard_cap_bounds_memory) {
  // No rate cap and a long delay: past kMaxHeld packets held, new ones are dropped.
  LinkCore core(spec_of("delay 10s"), 1);
  std::vector<uint8_t> p = packet(0, 40);
  for (size_t i = 0; i < LinkCore::kMaxHeld + 10; i++) core.recv(i, p.data(), p.size());
  EXPECT_EQ(core.held(), LinkCore::kMaxHeld);
  EXPECT_EQ(core.stats().drop_queue, 10u);
}

// `drop-first N` loses the first N packets and leaves every later packet's fate as it was
// (each packet still draws its numbers).
TEST(link_core, drop_first_loses_the_first_packets_only) {
  LinkCore plain(spec_of("delay 5ms loss 10%"), 9);
  LinkCore first(spec_of("delay 5ms loss 10% drop-first 3"), 9);
  std::vector<Out> op = run(plain, 500, 100), of = run(first, 500, 100);
  std::vector<Out> later;
  for (const Out& o : op)
    if (o.id >= 3) later.push_back(o);
  ASSERT_EQ(of.size(), later.size());
  for (size_t i = 0; i < of.size(); i++) {
    EXPECT_EQ(of[i].id, later[i].id);
    EXPECT_EQ(of[i].at_us, later[i].at_us);
  }
  EXPECT_EQ(first.stats().drop_first, 3u);
  EXPECT_EQ(plain.stats().drop_first, 0u);
}

namespace {
// An IPv4 TCP header pair with the given ports and flags (no payload).
std::vector<uint8_t> tcp_packet(uint16_t sport, uint16_t dport, uint8_t flags) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x45;
  p[9] = 6;
  p[12] = 198, p[13] = 18, p[14] = 0, p[15] = 2;  // 198.18.0.2 -> 198.18.0.1
  p[16] = 198, p[17] = 18, p[18] = 0, p[19] = 1;
  p[20] = uint8_t(sport >> 8), p[21] = uint8_t(sport);
  p[22] = uint8_t(dport >> 8), p[23] = uint8_t(dport);
  p[32] = 0x50;
  p[33] = flags;
  return p;
}
}  // namespace

// syn_flows counts connections opened: a SYN sent again on the same ports counts once, a
// SYN-ACK or a data segment not at all, and a dropped SYN still counts.
TEST(link_core, syn_flows_counts_distinct_connection_openings) {
  LinkCore core(spec_of("drop-first 1"), 1);
  const uint8_t kSyn = 0x02, kAck = 0x10;
  for (auto [sport, flags] : std::vector<std::pair<uint16_t, uint8_t>>{
           {40000, kSyn}, {40000, kSyn}, {40001, kSyn}, {40001, kAck}, {40002, kSyn | kAck}}) {
    std::vector<uint8_t> p = tcp_packet(sport, 7000, flags);
    core.recv(0, p.data(), p.size());
  }
  EXPECT_EQ(core.stats().syn_flows, 2u);
  EXPECT_EQ(core.stats().drop_first, 1u);
  std::string j = ferry::link::stats_json(core.stats(), "drop-first 1");
  EXPECT_NE(j.find("\"first\":1"), std::string::npos) << j;
  EXPECT_NE(j.find("\"syn_flows\":2"), std::string::npos) << j;
}

TEST(link_core, stats_json_names_every_counter) {
  LinkCore core(spec_of("loss 50%"), 2);
  run(core, 100, 10);
  std::string j = ferry::link::stats_json(core.stats(), "loss 50%");
  for (const char* key : {"\"spec\":\"loss 50%\"", "\"packets_in\":100",
                          "\"dropped\":{\"random\":", "\"burst\":0", "\"rate\":0", "\"queue\":0",
                          "\"first\":0", "\"syn_flows\":0",
                          "\"duplicated\":0", "\"reordered\":0", "\"delayed\":0", "\"bytes_out\":"})
    EXPECT_NE(j.find(key), std::string::npos) << key << " in " << j;
}
