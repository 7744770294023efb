// Proves the UploadManager's lanes (issue 7 section 2) against a fake resource server that
// follows docs/protocol-upload.md "Lanes": the controller adds connections while goodput
// rises; every chunk goes out under the slot of the lane it is written on; a chunk is never
// in flight on two lanes at once; acks on one lane make chunks durable for all; UPLOAD_DONE
// on every lane completes the upload once. An extra lane that dies mid-upload hands its
// chunks back (the file still completes); an old-style server that takes the upload over on
// each new OPEN (NACK unknown_slot on the older lane) still completes; max_lanes 1 never
// dials a second connection.
// How: an UploadManager with a fake store and a virtual clock; the test plays the chat
// server (send_media answer), the adapter (dials, chunk reads) and resd (per-lane slots, a
// per-lane capacity of a few chunks per tick so more lanes really carry more). No sockets.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "proto/frame.h"
#include "proto/json.h"
#include "proto/upload_frames.h"
#include "sdk/core/upload_manager.h"
#include "sdk/include/ferry.h"
#include "tests/unit/sdk_fake_store.h"

namespace ferry::sdk {
namespace {

using proto::FrameType;
const std::string kSha(64, 'a');
constexpr uint32_t kChunk = 1u << 20;

// Sorted, merged ranges of a set of indices at or above `from`.
std::vector<proto::ChunkRange> ranges(const std::set<uint64_t>& s, uint64_t from = 0) {
  std::vector<proto::ChunkRange> out;
  for (uint64_t i : s) {
    if (i < from) continue;
    if (!out.empty() && out.back().end == i) {
      out.back().end = i + 1;
    } else {
      out.push_back({i, i + 1});
    }
  }
  return out;
}

struct Options {
  uint32_t max_lanes = 4;
  bool takeover = false;  // resd before lanes: a new OPEN drops the older lane's slot
  uint64_t chunks = 64;
  uint32_t per_lane_per_tick = 1;  // chunks one lane delivers per 10 ms tick
  uint64_t handshake_rtt_us = 0;  // told before each on_connected (0: not told)
  // A round trip per tick: resd's answers arrive at the next tick, and so does a dial's
  // connect.
  bool hold_replies = false;
  bool refuse_lane_opens = false;  // OPENs on lanes 1.. get SLOT_IN_USE
};

class Harness {
 public:
  explicit Harness(Options o) : o_(o), store_(), m_(config(o), store_, [] { return 7u; }) {
    store_.session_ = Session{"alice", 1, "tok"};
    m_.set_lane_capable();
  }

  static UploadManagerConfig config(const Options& o) {
    UploadManagerConfig c;
    c.max_lanes = o.max_lanes;
    c.lanes.min_interval_ms = 100;
    c.lanes.interval_rtts = 1;
    c.lanes.min_interval_chunks = 1;
    c.lanes.min_waiting_chunks = 4;
    return c;
  }

  void start() {
    announce();
    grant();
  }

  void announce() {
    PendingUpload u;
    u.cid = "c1";
    u.to = "bob";
    u.path = "/f";
    u.name = "f";
    u.size = o_.chunks * kChunk;
    u.sha256 = kSha;
    u.mime = "x/y";
    u.kind = FERRY_KIND_FILE;
    store_.upload_put(u);
    m_.submit(u, now_);
    m_.on_chat_online(now_);
    std::string body;
    ASSERT_TRUE(m_.next_chat_request(1, body));
    m_.after_chat_requests(now_);  // dials the resource server if its address is known
  }

  // The chat server's answer to send_media: the message and its upload ticket.
  void grant() {
    std::string size = std::to_string(o_.chunks * kChunk);
    proto::Json j = proto::json_parse(
        R"({"message":{"id":42,"cid":"c1","from":"alice","to":"bob","kind":"file","ts":1,)"
        R"("status":"uploading","media":{"name":"f","size":)" + size +
        R"(,"mime":"x/y","sha256":")" + kSha + R"("},"progress":0},)"
        R"("upload":{"ticket":"T","resource":"127.0.0.1:7421","expires_ms":9}})");
    m_.on_chat_response(1, true, j.get(), 0, "", "", now_);
  }

  // One 10 ms tick: connections, control frames, reads, deliveries, acks.
  void tick() {
    now_ += 10;
    for (uint32_t lane : std::exchange(dialing_, {})) connect(lane);
    for (auto& [lane, bytes] : std::exchange(held_replies_, {})) {
      if (!up_.count(lane)) continue;
      heard_.insert(lane);
      m_.on_bytes(lane, bytes.data(), bytes.size(), now_);
    }
    m_.handle_timeout(now_);
    pump();
    // resd: each lane delivers a few of its queued chunks per tick.
    for (auto& [lane, q] : wire_) {
      for (uint32_t n = 0; n < o_.per_lane_per_tick && !q.empty(); n++) {
        auto [slot, index] = q.front();
        q.erase(q.begin());
        deliver(lane, slot, index);
      }
    }
    pump();
    lanes_peak_ = std::max(lanes_peak_, m_.lanes_up());
  }

  void pump() {
    for (int round = 0; round < 8; round++) {
      while (auto l = m_.poll_close_lane()) {
        up_.erase(*l);
        wire_.erase(*l);
        forget_lane(*l);
      }
      while (auto d = m_.poll_connect_lane()) {
        EXPECT_EQ(d->addr, "127.0.0.1:7421");
        dials_++;
        if (o_.hold_replies) {
          dialing_.push_back(d->lane);
        } else {
          connect(d->lane);
        }
      }
      for (uint32_t l : std::set<uint32_t>(up_)) control(l, m_.poll_send(l));
      for (uint32_t l : std::set<uint32_t>(up_)) {
        while (auto job = m_.poll_read(now_, l)) {
          EXPECT_EQ(job->lane, l);
          uint8_t prefix[proto::kChunkFramePrefixBytes];
          proto::ChunkSum h{};
          if (!m_.on_read_done(job->id, FERRY_OK, "", h, prefix, now_)) continue;
          control(l, m_.poll_send(l));
          std::string frame(reinterpret_cast<char*>(prefix), sizeof prefix);
          frame.append(job->length, 'x');
          proto::FrameDecoder dec(64u << 20);
          dec.feed(frame.data(), frame.size());
          proto::Frame f;
          ASSERT_EQ(dec.next(f), proto::DecodeStatus::Ready);
          proto::Chunk c;
          std::string err;
          ASSERT_TRUE(proto::decode_chunk(f.body, c, err)) << err;
          // The slot is this lane's slot for the upload, or one a takeover dropped that the
          // client cannot know of before the NACK unknown_slot for it comes back.
          auto it = slot_lane_.find(c.slot);
          if (it == slot_lane_.end()) {
            ASSERT_TRUE(taken_.count(c.slot)) << "chunk under a slot never opened";
          } else {
            EXPECT_EQ(it->second, l) << "chunk under another lane's slot";
          }
          EXPECT_EQ(c.index * kChunk, job->offset);
          // Never in flight on two lanes at once (unless a lane was lost meanwhile).
          auto fl = in_flight_.find(c.index);
          if (fl != in_flight_.end() && up_.count(fl->second) && fl->second != l &&
              !held_.count(c.index)) {
            double_flight_++;
          }
          in_flight_[c.index] = l;
          if (held_.count(c.index)) duplicates_++;
          if (sent_on_[l]++ == 0 && !heard_.count(l)) chunks_before_answer_++;
          wire_[l].push_back({c.slot, c.index});
        }
      }
    }
  }

  void connect(uint32_t lane) {
    if (o_.handshake_rtt_us) m_.on_handshake_rtt(lane, o_.handshake_rtt_us);
    m_.on_connected(lane, now_);
    up_.insert(lane);
  }

  void control(uint32_t lane, const std::string& bytes) {
    decs_.try_emplace(lane, 1u << 20);
    proto::FrameDecoder& dec = decs_.at(lane);
    dec.feed(bytes.data(), bytes.size());
    proto::Frame f;
    while (dec.next(f) == proto::DecodeStatus::Ready) {
      std::string err;
      if (f.type == FrameType::Hello) {
        feed(lane, FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
      } else if (f.type == FrameType::Ping) {
        feed(lane, FrameType::Pong, "");
      } else if (f.type == FrameType::UploadOpen) {
        proto::UploadOpen open;
        ASSERT_TRUE(proto::decode_upload_open(f.body, open, err));
        if (o_.takeover) {
          for (auto it = slot_lane_.begin(); it != slot_lane_.end();) {
            it = it->second != lane ? (taken_.insert(it->first), slot_lane_.erase(it)) : ++it;
          }
        }
        opens_++;
        proto::UploadState s;
        s.slot = open.slot;
        if (o_.refuse_lane_opens && lane != 0) {
          taken_.insert(open.slot);  // its chunks are NACKed unknown_slot
          s.status = proto::UploadStatus::SlotInUse;
          std::string out;
          proto::encode_upload_state(out, s);
          feed_raw(lane, out);
          continue;
        }
        slot_lane_[open.slot] = lane;
        s.chunk_size = kChunk;
        s.file_size = o_.chunks * kChunk;
        s.total_chunks = o_.chunks;
        s.held = ranges(held_);
        std::string out;
        proto::encode_upload_state(out, s);
        feed_raw(lane, out);
      }
    }
  }

  void deliver(uint32_t lane, uint32_t slot, uint64_t index) {
    proto::ChunkAck a;
    a.slot = slot;
    if (!slot_lane_.count(slot)) {
      a.nacks = {{index, proto::NackReason::UnknownSlot}};
    } else {
      held_.insert(index);
      uint64_t cum = 0;
      while (held_.count(cum)) cum++;
      a.cumulative = cum;
      a.selective = ranges(held_, cum);
      if (a.selective.size() > proto::kMaxAckRanges) a.selective.resize(proto::kMaxAckRanges);
    }
    in_flight_.erase(index);
    std::string out;
    proto::encode_chunk_ack(out, a);
    feed_raw(lane, out);
    if (held_.size() == o_.chunks && !done_sent_) {
      done_sent_ = true;
      for (const auto& [s, l] : std::map<uint32_t, uint32_t>(slot_lane_)) {
        proto::UploadDone d;
        d.slot = s;
        d.file_size = o_.chunks * kChunk;
        d.file_hash.fill(0xaa);
        std::string o;
        proto::encode_upload_done(o, d);
        feed_raw(l, o);
      }
    }
  }

  void forget_lane(uint32_t lane) {
    decs_.erase(lane);
    for (auto it = slot_lane_.begin(); it != slot_lane_.end();) {
      it = it->second == lane ? slot_lane_.erase(it) : ++it;
    }
  }

  // The connection of `lane` breaks (as a reset would).
  void cut(uint32_t lane) {
    up_.erase(lane);
    wire_.erase(lane);
    forget_lane(lane);
    m_.on_disconnected(lane, FERRY_ECLOSED, "reset", now_);
    pump();
  }

  void feed(uint32_t lane, FrameType t, const std::string& body) {
    std::string bytes;
    proto::encode_frame(bytes, t, body);
    feed_raw(lane, bytes);
  }
  void feed_raw(uint32_t lane, const std::string& bytes) {
    if (!up_.count(lane)) return;
    if (o_.hold_replies) return held_replies_.push_back({lane, bytes});
    heard_.insert(lane);
    m_.on_bytes(lane, bytes.data(), bytes.size(), now_);
  }

  std::vector<Event> events() {
    std::vector<Event> out;
    Event e;
    while (m_.poll_event(e)) out.push_back(std::move(e));
    return out;
  }

  Options o_;
  FakeStore store_;
  UploadManager m_;
  uint64_t now_ = 1000;
  std::set<uint32_t> up_;
  std::map<uint32_t, proto::FrameDecoder> decs_;
  std::map<uint32_t, std::vector<std::pair<uint32_t, uint64_t>>> wire_;
  std::map<uint32_t, uint32_t> slot_lane_;  // open slots at "resd"
  std::set<uint32_t> taken_;
  std::set<uint64_t> held_;
  std::map<uint64_t, uint32_t> in_flight_;
  std::map<uint32_t, uint64_t> sent_on_;
  std::vector<std::pair<uint32_t, std::string>> held_replies_;
  std::vector<uint32_t> dialing_;
  std::set<uint32_t> heard_;  // lanes on which the client has heard from resd
  int chunks_before_answer_ = 0;  // lanes whose first chunk left before any answer
  bool done_sent_ = false;
  uint32_t lanes_peak_ = 0;
  int dials_ = 0, opens_ = 0, double_flight_ = 0, duplicates_ = 0;
};

bool completed(Harness& h) {
  for (int i = 0; i < 20000 && !h.done_sent_; i++) h.tick();
  std::printf("[ lanes    ] peak %u lanes, %d dials, %d OPENs, chunks sent per lane:", h.lanes_peak_,
              h.dials_, h.opens_);
  for (const auto& [l, n] : h.sent_on_) std::printf(" %u:%llu", l, (unsigned long long)n);
  std::printf(", %zu slots taken over\n", h.taken_.size());
  return h.done_sent_ && h.m_.active() == 1;
}

TEST(upload_lanes, spreads_chunks_over_lanes_and_completes_once) {
  Harness h(Options{});
  h.start();
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 64u);
  EXPECT_GE(h.lanes_peak_, 2u);  // lanes paid (each carries its own chunks per tick)
  EXPECT_LE(h.lanes_peak_, 4u);
  int lanes_used = 0;
  for (const auto& [l, n] : h.sent_on_) lanes_used += n > 0;
  EXPECT_GE(lanes_used, 2);
  EXPECT_EQ(h.double_flight_, 0);
  EXPECT_EQ(h.duplicates_, 0);
  // UPLOAD_DONE came on every lane; the upload finished with one final progress, once.
  std::vector<Event> ev = h.events();
  int finals = 0;
  for (const Event& e : ev) {
    if (e.type == FERRY_EVENT_UPLOAD_PROGRESS && e.done == e.total) finals++;
  }
  EXPECT_EQ(finals, 1);
  EXPECT_TRUE(h.m_.on_status_push(42, FERRY_MSG_READY, h.now_));
  EXPECT_EQ(h.m_.active(), 0u);
  // With nothing left to upload every connection closes.
  h.tick();
  EXPECT_EQ(h.m_.lanes_up(), 0u);
}

TEST(upload_lanes, a_lane_that_dies_hands_its_chunks_back) {
  // Enough work that the controller's probes to 3+ lanes can pay (lane_controller.h).
  Options o;
  o.chunks = 256;
  Harness h(o);
  h.start();
  for (int i = 0; i < 20000 && h.m_.lanes_up() < 3; i++) h.tick();
  ASSERT_GE(h.m_.lanes_up(), 3u);
  uint64_t before = h.held_.size();
  ASSERT_LT(before, 64u);
  h.cut(2);
  EXPECT_LT(h.m_.lanes_up(), 3u + 1);
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 256u);
}

TEST(upload_lanes, server_that_takes_over_on_each_open_still_completes) {
  Options o;
  o.takeover = true;
  Harness h(o);
  h.start();
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 64u);
  EXPECT_FALSE(h.taken_.empty());  // the older lane's slot was really forgotten
}

TEST(upload_lanes, max_lanes_one_never_dials_a_second_connection) {
  Options o;
  o.max_lanes = 1;
  Harness h(o);
  h.start();
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.dials_, 1);
  EXPECT_EQ(h.lanes_peak_, 1u);
  EXPECT_EQ(h.opens_, 1);
}

// The default lane cap, and a round trip per tick (resd's answers and connects take one);
// `handshake_us` is the handshake round trip the adapter reports (0: none).
Options round_trips(uint64_t handshake_us) {
  Options o;
  o.max_lanes = 16;
  o.hold_replies = true;
  o.handshake_rtt_us = handshake_us;
  return o;
}

// A long handshake (TCP_INFO's round trip of lane 0's connect) starts the long-path lanes at
// once, while lane 0 still waits for the server's HELLO, instead of a round trip later; and
// every lane sends chunks right behind its HELLO and OPEN, before resd has answered either
// (lane 0 too: the upload is fresh, so the server holds nothing of it).
TEST(upload_lanes, a_long_handshake_opens_every_lane_before_the_first_answer) {
  Options o = round_trips(40000);
  Harness h(o);
  h.start();
  h.pump();
  h.tick();  // lane 0 connects: HELLO and OPEN go out
  EXPECT_EQ(h.dials_, 12);  // very_long_path_lanes, before any answer from resd
  EXPECT_EQ(h.sent_on_.size(), 1u);  // lane 0's chunks ride behind its OPEN
  // The other lanes connect as lane 0's HELLO and UPLOAD_STATE arrive.
  h.tick();
  EXPECT_EQ(h.m_.lanes_up(), 1u);  // the other lanes' HELLOs are not answered yet ...
  EXPECT_EQ(h.sent_on_.size(), 12u);  // ... and every lane already carries chunks
  EXPECT_EQ(h.chunks_before_answer_, 12);
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 64u);
  EXPECT_EQ(h.double_flight_, 0);
  EXPECT_EQ(h.duplicates_, 0);
}

// The resource server's address is known before the ticket (an earlier grant, or the chat
// server's answer to auth), so lane 0 is dialed while send_media is out; its handshake times
// a long path, and the lanes are dialed for the upload on its way, before the ticket comes.
// With the ticket every lane OPENs and sends at once.
TEST(upload_lanes, an_announce_on_a_long_path_dials_the_lanes_before_the_ticket) {
  Options o = round_trips(40000);
  Harness h(o);
  h.m_.set_resource_hint("127.0.0.1:7421", h.now_);
  h.announce();
  h.pump();
  EXPECT_EQ(h.dials_, 1);
  h.tick();  // lane 0 connects; no upload to open yet
  EXPECT_EQ(h.dials_, 12);
  EXPECT_TRUE(h.sent_on_.empty());
  h.tick();  // the other lanes connect
  h.grant();
  h.pump();
  EXPECT_EQ(h.sent_on_.size(), 12u) << "every lane sends right behind its OPEN";
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 64u);
  EXPECT_EQ(h.double_flight_, 0);
}

// The chat connection's handshake timed a long path to the same host: every lane is dialed
// together with lane 0, a round trip before lane 0's own handshake could tell.
TEST(upload_lanes, the_chat_servers_path_dials_every_lane_with_lane_0) {
  Options o = round_trips(40000);
  Harness h(o);
  h.m_.on_chat_path("127.0.0.1", 40000);
  h.m_.set_resource_hint("127.0.0.1:7421", h.now_);
  h.announce();
  h.pump();
  EXPECT_EQ(h.dials_, 12);
  h.tick();  // all connect
  h.grant();
  h.pump();
  EXPECT_EQ(h.sent_on_.size(), 12u);
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 64u);
}

// Another host, or a short path: nothing is predicted.
TEST(upload_lanes, the_chat_servers_path_says_nothing_of_another_host) {
  for (auto [ip, rtt_us] : {std::pair<const char*, uint64_t>{"127.0.0.2", 40000},
                            std::pair<const char*, uint64_t>{"127.0.0.1", 200}}) {
    Options o = round_trips(0);
    Harness h(o);
    h.m_.on_chat_path(ip, rtt_us);
    h.m_.set_resource_hint("127.0.0.1:7421", h.now_);
    h.announce();
    h.pump();
    EXPECT_EQ(h.dials_, 1) << ip;
  }
}

// Without a handshake sample the lanes wait for the server's HELLO to time the path (here
// one 10 ms tick: a long path, four lanes).
TEST(upload_lanes, no_handshake_sample_no_early_lanes) {
  Options o = round_trips(0);
  Harness h(o);
  h.start();
  h.pump();
  h.tick();  // lane 0 connects
  EXPECT_EQ(h.dials_, 1);
  h.tick();  // its HELLO's answer times the path
  EXPECT_EQ(h.dials_, 4);
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 64u);
}

// On a long path the lanes are paced by their sockets (the adapter sets the unsent limit the
// manager names), so the window's byte cap no longer bounds queueing and rises: more than
// 32 MiB in flight over the lanes. On a path of unknown length nothing changes.
TEST(upload_lanes, a_long_path_paces_the_lanes_and_lifts_the_byte_cap) {
  for (bool long_path : {false, true}) {
    Options o = long_path ? round_trips(40000) : Options{};
    o.max_lanes = 16;
    o.chunks = 160;
    o.per_lane_per_tick = 2;
    Harness h(o);
    EXPECT_EQ(h.m_.lane_unsent_limit(), 0u);
    h.start();
    h.pump();
    uint64_t most = 0;
    for (int i = 0; i < 200 && h.held_.size() < 96; i++) {
      h.tick();
      most = std::max<uint64_t>(most, h.m_.counters().chunks_sent - h.held_.size());
    }
    std::printf("[ lanes    ] %s path: at most %llu chunks in flight over %u lanes\n",
                long_path ? "long" : "unknown", (unsigned long long)most, h.lanes_peak_);
    if (long_path) {
      EXPECT_EQ(h.m_.lane_unsent_limit(), UploadManagerConfig{}.paced_unsent_bytes);
      EXPECT_GT(most, 48u) << "the cap rose past 32 MiB (and one chunk a lane)";
      EXPECT_LE(most, 96u + h.lanes_peak_);
    } else {
      EXPECT_EQ(h.m_.lane_unsent_limit(), 0u);
      EXPECT_LE(most, 32u + h.lanes_peak_);
    }
    ASSERT_TRUE(completed(h));
    EXPECT_EQ(h.double_flight_, 0);
  }
}

// The chunks an extra lane sent behind an OPEN that resd refuses go back to the pool and
// out on lane 0; the lane carries the upload no more.
TEST(upload_lanes, a_refused_open_gives_the_lanes_chunks_back) {
  Options o = round_trips(40000);
  o.refuse_lane_opens = true;
  Harness h(o);
  h.start();
  h.pump();
  h.tick();
  h.tick();
  EXPECT_EQ(h.chunks_before_answer_, 12);  // sent before the refusal could be known
  std::map<uint32_t, uint64_t> early = h.sent_on_;
  ASSERT_TRUE(completed(h));
  EXPECT_EQ(h.held_.size(), 64u);
  for (uint32_t l = 1; l < 12; l++) EXPECT_EQ(h.sent_on_[l], early[l]) << "lane " << l;
}

}  // namespace
}  // namespace ferry::sdk
