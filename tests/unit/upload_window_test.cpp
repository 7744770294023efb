// Proves the sender's upload window: slow start and additive increase, halving once per
// window of data and never below 1, the byte cap, RFC 6298 RTO with backoff and Karn's rule,
// retransmission on RTO and NACK, harmless duplicate acks, round-robin fairness between
// uploads, resume from a partial UPLOAD_STATE, pause/resume/cancel and the failure events.
// How: drive UploadWindow directly with hand-made UPLOAD_STATE/CHUNK_ACK structs and a
// virtual clock; no sockets, no sleeps.
#include <gtest/gtest.h>

#include <set>

#include "sdk/core/upload_window.h"

using namespace ferry;
using namespace ferry::sdk;

namespace {

proto::UploadState make_state(uint32_t slot, uint64_t chunks, uint32_t chunk_size = 100,
                              std::vector<proto::ChunkRange> held = {}) {
  proto::UploadState s;
  s.slot = slot;
  s.chunk_size = chunk_size;
  s.file_size = chunks * chunk_size;
  s.total_chunks = chunks;
  s.held = std::move(held);
  return s;
}

std::vector<SendChunk> drain(UploadWindow& w, uint64_t now) {
  std::vector<SendChunk> out;
  while (auto s = w.poll_send(now)) out.push_back(*s);
  return out;
}

std::vector<UploadEvent> events(UploadWindow& w) {
  std::vector<UploadEvent> out;
  while (auto e = w.poll_event()) out.push_back(*e);
  return out;
}

proto::ChunkAck ack_upto(uint32_t slot, uint64_t cumulative) {
  proto::ChunkAck a;
  a.slot = slot;
  a.cumulative = cumulative;
  return a;
}

proto::ChunkAck nack(uint32_t slot, uint64_t index, proto::NackReason r) {
  proto::ChunkAck a;
  a.slot = slot;
  a.nacks = {{index, r}};
  return a;
}

UploadWindowConfig config(uint32_t initial, uint32_t max) {
  UploadWindowConfig c;
  c.initial_cwnd = initial;
  c.max_cwnd = max;
  c.max_inflight_bytes = UINT64_MAX;
  return c;
}

}  // namespace

TEST(upload_window, slow_start_doubles_each_round_trip) {
  UploadWindow w(config(2, 64));
  ASSERT_TRUE(w.add_upload(make_state(1, 1000), 0));
  uint64_t acked = 0;
  uint32_t expect = 2;
  for (int round = 0; round < 5; round++) {
    auto sent = drain(w, round * 10);
    ASSERT_EQ(sent.size(), expect) << "round " << round;
    EXPECT_EQ(w.in_flight_chunks(), expect);
    acked += sent.size();
    w.on_ack(ack_upto(1, acked), round * 10 + 5);
    expect *= 2;
    EXPECT_EQ(w.cwnd(), expect);
  }
}

TEST(upload_window, additive_increase_after_loss) {
  UploadWindow w(config(8, 64));
  w.add_upload(make_state(1, 1000), 0);
  ASSERT_EQ(drain(w, 0).size(), 8u);
  w.on_ack(nack(1, 0, proto::NackReason::BadHash), 1);
  EXPECT_EQ(w.cwnd(), 4u);
  EXPECT_EQ(w.ssthresh(), 4u);
  EXPECT_TRUE(drain(w, 1).empty()) << "7 still in flight, more than the halved window";
  proto::ChunkAck a = ack_upto(1, 0);
  a.selective = {{1, 8}};
  w.on_ack(a, 2);
  auto re = drain(w, 2);
  ASSERT_FALSE(re.empty());
  EXPECT_EQ(re[0].index, 0u);
  EXPECT_TRUE(re[0].retransmit);
  // Chunks now go out in order; ack them one per frame. In congestion avoidance a whole
  // window of acks adds exactly one chunk to the window.
  uint64_t cum = 0;
  for (int round = 0; round < 6; round++) {
    uint32_t before = w.cwnd();
    ASSERT_EQ(w.in_flight_chunks(), before) << "round " << round;
    for (uint32_t k = 0; k < before; k++) {
      bool first = cum == 0;
      cum = first ? 8 : cum + 1;
      w.on_ack(ack_upto(1, first ? 1 : cum), 10 + round);
      drain(w, 10 + round);
    }
    EXPECT_EQ(w.cwnd(), before + 1) << "round " << round;
    EXPECT_EQ(w.ssthresh(), 4u);
  }
}

TEST(upload_window, halves_once_per_window_never_below_one) {
  UploadWindow w(config(16, 64));
  w.add_upload(make_state(1, 1000), 0);
  ASSERT_EQ(drain(w, 0).size(), 16u);
  // Three NACKs for chunks of the same flight are one congestion event.
  w.on_ack(nack(1, 3, proto::NackReason::BadHash), 1);
  w.on_ack(nack(1, 5, proto::NackReason::WriteFailed), 1);
  w.on_ack(nack(1, 9, proto::NackReason::BadHash), 1);
  EXPECT_EQ(w.cwnd(), 8u);
  // A loss of a chunk sent after the reduction is a new event.
  w.on_ack(ack_upto(1, 3), 2);
  proto::ChunkAck a = ack_upto(1, 3);
  a.selective = {{4, 5}, {6, 9}, {10, 16}};
  w.on_ack(a, 2);
  auto sent = drain(w, 3);
  ASSERT_FALSE(sent.empty());
  EXPECT_TRUE(sent[0].retransmit);
  EXPECT_EQ(sent[0].index, 3u);  // lost chunks go first, oldest loss first
  EXPECT_EQ(sent[1].index, 5u);
  EXPECT_EQ(sent[2].index, 9u);
  uint32_t before = w.cwnd();
  w.on_ack(nack(1, sent.back().index, proto::NackReason::BadHash), 4);
  EXPECT_EQ(w.cwnd(), before / 2);
  // Repeated fresh losses drive it down to 1 and no further.
  uint64_t hi = sent.back().index + 1;
  for (int i = 0; i < 10; i++) {
    w.on_ack(ack_upto(1, hi), 5 + i);  // everything so far is durable
    auto more = drain(w, 5 + i);
    ASSERT_FALSE(more.empty());
    hi = more.back().index + 1;
    w.on_ack(nack(1, more.back().index, proto::NackReason::BadHash), 5 + i);
    EXPECT_GE(w.cwnd(), 1u);
  }
  EXPECT_EQ(w.cwnd(), 1u);
  EXPECT_EQ(w.ssthresh(), 1u);
}

TEST(upload_window, cwnd_capped_and_bytes_bounded) {
  UploadWindow w(config(2, 6));
  w.add_upload(make_state(1, 1000), 0);
  uint64_t acked = 0;
  for (int round = 0; round < 10; round++) {
    auto sent = drain(w, round);
    EXPECT_LE(w.in_flight_chunks(), 6u);
    acked += sent.size();
    w.on_ack(ack_upto(1, acked), round);
  }
  EXPECT_EQ(w.cwnd(), 6u);

  // The byte cap: a slow link never holds more than max_inflight_bytes in flight.
  UploadWindowConfig c = config(64, 64);
  c.max_inflight_bytes = 350;
  UploadWindow b(c);
  b.add_upload(make_state(1, 1000, 100), 0);
  EXPECT_EQ(drain(b, 0).size(), 3u);
  EXPECT_EQ(b.in_flight_bytes(), 300u);
  // A chunk bigger than the cap still goes out alone, so progress is always possible.
  UploadWindow big(c);
  big.add_upload(make_state(2, 3, 1000), 0);
  EXPECT_EQ(drain(big, 0).size(), 1u);
}

TEST(upload_window, rto_follows_rfc6298_and_backs_off) {
  UploadWindowConfig c = config(1, 64);
  c.min_rto_ms = 10;
  c.max_rto_ms = 5000;
  c.max_timeouts = 0;
  UploadWindow w(c);
  w.add_upload(make_state(1, 100), 0);
  EXPECT_EQ(w.rto_ms(), 1000u);  // before any sample
  ASSERT_EQ(drain(w, 1000).size(), 1u);
  EXPECT_EQ(w.poll_timeout(), 2000u);
  w.on_ack(ack_upto(1, 1), 1100);  // rtt 100: srtt 100, rttvar 50, rto 100 + 4*50
  EXPECT_EQ(w.srtt_ms(), 100u);
  EXPECT_EQ(w.rto_ms(), 300u);
  ASSERT_EQ(drain(w, 1100).size(), 2u);
  w.on_ack(ack_upto(1, 3), 1300);  // rtt 200: rttvar 0.75*50+0.25*100=62.5, srtt 112.5
  EXPECT_EQ(w.srtt_ms(), 113u);
  EXPECT_EQ(w.rto_ms(), 363u);  // ceil(112.5 + 250)
  // Timeouts double the RTO each time, up to the cap.
  auto sent = drain(w, 2000);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(w.poll_timeout(), 2363u);
  w.handle_timeout(2362);
  EXPECT_EQ(w.rto_ms(), 363u) << "nothing is due a millisecond early";
  uint64_t now = 2363;
  uint64_t expect = 363;
  for (int i = 0; i < 6; i++) {
    w.handle_timeout(now);
    expect = std::min<uint64_t>(expect * 2, 5000);
    EXPECT_EQ(w.rto_ms(), expect);
    auto re = drain(w, now);
    ASSERT_FALSE(re.empty());
    EXPECT_TRUE(re[0].retransmit);
    if (i == 0) {
      EXPECT_EQ(re[0].index, sent[0].index);  // oldest loss first
    }
    now = *w.poll_timeout();
  }
  EXPECT_EQ(w.rto_ms(), 5000u);
}

// RFC 6298 5.3: an ack for a chunk a lane sent restarts that lane's timer. A deep window
// drains one chunk per 250 ms behind a slow link, so the queued chunks grow older than the
// 300 ms RTO the first sample gave; none is lost while acks keep coming (per-chunk age would
// have re-sent all of them at 300 ms). A stall of one RTO then times out the rest.
TEST(upload_window, rto_restarts_on_progress_not_per_chunk_age) {
  UploadWindowConfig c = config(8, 8);
  c.min_rto_ms = 10;
  c.max_timeouts = 0;
  UploadWindow w(c);
  w.add_upload(make_state(1, 100), 0);
  ASSERT_EQ(drain(w, 0).size(), 8u);
  w.on_ack(ack_upto(1, 1), 100);  // rtt 100: rto 300
  ASSERT_EQ(w.rto_ms(), 300u);
  uint64_t now = 100;
  int retransmits = 0;
  for (uint64_t acked = 2; acked <= 6; acked++) {
    for (auto& sc : drain(w, now)) retransmits += sc.retransmit;
    now += 250;  // each chunk queued behind the previous ones
    w.handle_timeout(now - 1);
    w.on_ack(ack_upto(1, acked), now);
  }
  for (auto& sc : drain(w, now)) retransmits += sc.retransmit;
  EXPECT_EQ(retransmits, 0) << "no timeout while acks arrive within one RTO of each other";
  const ChunkTracker* t = w.tracker(1);
  for (uint64_t i = 6; i < 8; i++) EXPECT_FALSE(t->send_record(i)->lost) << i;
  // The link stalls: one RTO after the last progress the oldest chunks are given up.
  uint64_t rto = w.rto_ms();
  EXPECT_EQ(w.poll_timeout(), now + rto);
  w.handle_timeout(now + rto - 1);
  EXPECT_FALSE(t->send_record(6)->lost);
  w.handle_timeout(now + rto);
  EXPECT_TRUE(t->send_record(6)->lost);
  EXPECT_EQ(w.rto_ms(), 2 * rto);
}

TEST(upload_window, karn_ignores_retransmitted_chunks) {
  UploadWindowConfig c = config(1, 64);
  c.min_rto_ms = 10;
  UploadWindow w(c);
  w.add_upload(make_state(1, 100), 0);
  drain(w, 0);
  w.on_ack(ack_upto(1, 1), 100);
  ASSERT_EQ(w.srtt_ms(), 100u);
  ASSERT_EQ(w.rto_ms(), 300u);
  auto sent = drain(w, 100);  // chunks 1 and 2
  ASSERT_EQ(sent.size(), 2u);
  w.handle_timeout(400);  // both time out
  EXPECT_EQ(w.rto_ms(), 600u);
  auto re = drain(w, 400);
  ASSERT_EQ(re.size(), 1u);  // cwnd halved to 1
  EXPECT_TRUE(re[0].retransmit);
  // The ack of a retransmitted chunk yields no sample: srtt stays, backoff stays.
  w.on_ack(ack_upto(1, 2), 5000);
  EXPECT_EQ(w.srtt_ms(), 100u);
  EXPECT_EQ(w.rto_ms(), 600u);
  // A first transmission's ack is a sample again and ends the backoff.
  auto fresh = drain(w, 5000);
  ASSERT_FALSE(fresh.empty());
  EXPECT_EQ(fresh[0].index, 2u);  // chunk 2 was also lost; retransmitted
  EXPECT_TRUE(fresh[0].retransmit);
  w.on_ack(ack_upto(1, 3), 5100);
  EXPECT_EQ(w.rto_ms(), 600u) << "chunk 2 was retransmitted: still no sample";
  auto first = drain(w, 5100);
  ASSERT_FALSE(first.empty());
  EXPECT_FALSE(first[0].retransmit);
  w.on_ack(ack_upto(1, first[0].index + 1), 5200);
  EXPECT_EQ(w.srtt_ms(), 100u);
  EXPECT_LT(w.rto_ms(), 600u);
}

TEST(upload_window, duplicate_and_stale_acks_are_harmless) {
  UploadWindow w(config(4, 64));
  w.add_upload(make_state(1, 10), 0);
  events(w);
  drain(w, 0);
  w.on_ack(ack_upto(1, 2), 10);
  auto ev = events(w);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].bytes_durable, 200u);
  uint32_t cwnd = w.cwnd();
  uint64_t in_flight = w.in_flight_chunks();
  w.on_ack(ack_upto(1, 2), 11);  // duplicate
  w.on_ack(ack_upto(1, 1), 12);  // stale (smaller)
  w.on_ack(nack(1, 0, proto::NackReason::BadHash), 13);  // NACK for an acked chunk
  EXPECT_TRUE(events(w).empty());
  EXPECT_EQ(w.cwnd(), cwnd);
  EXPECT_EQ(w.in_flight_chunks(), in_flight);
  EXPECT_EQ(w.tracker(1)->acked_bytes(), 200u);
  w.on_ack(ack_upto(99, 5), 14);  // unknown slot: ignored
  EXPECT_TRUE(events(w).empty());
}

TEST(upload_window, fair_between_uploads) {
  UploadWindow w(config(8, 8));
  w.add_upload(make_state(1, 500), 0);
  w.add_upload(make_state(2, 500), 0);
  std::map<uint32_t, uint64_t> sent, acked;
  for (int round = 0; round < 100; round++) {
    for (auto& s : drain(w, round)) sent[s.slot]++;
    // Both progress within a bounded ratio at every point: turns alternate chunk by chunk.
    EXPECT_LE(std::max(sent[1], sent[2]) - std::min(sent[1], sent[2]), 1u) << round;
    for (uint32_t slot : {1u, 2u}) {
      acked[slot] = sent[slot];
      w.on_ack(ack_upto(slot, acked[slot]), round);
    }
  }
  EXPECT_GT(sent[1], 300u);
  // A third upload joining late gets its share at once.
  w.add_upload(make_state(3, 500), 100);
  std::map<uint32_t, uint64_t> share;
  for (int round = 0; round < 10; round++) {
    auto batch = drain(w, 100 + round);
    for (auto& s : batch) {
      share[s.slot]++;
      sent[s.slot]++;
    }
    for (uint32_t slot : {1u, 2u, 3u}) w.on_ack(ack_upto(slot, sent[slot]), 100 + round);
  }
  EXPECT_GE(share[3] * 3, share[1] + share[2] + share[3] - 3);
}

TEST(upload_window, resume_sends_only_missing_chunks) {
  UploadWindow w(config(64, 64));
  auto s = make_state(1, 12, 100, {{0, 5}, {7, 10}});
  s.file_size = 1150;  // tail chunk of 50 bytes
  ASSERT_TRUE(w.add_upload(s, 0));
  auto ev = events(w);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, UploadEventKind::Progress);
  EXPECT_EQ(ev[0].bytes_durable, 800u);
  EXPECT_EQ(ev[0].bytes_total, 1150u);
  auto sent = drain(w, 0);
  std::vector<uint64_t> idx;
  for (auto& c : sent) idx.push_back(c.index);
  EXPECT_EQ(idx, (std::vector<uint64_t>{5, 6, 10, 11}));
  EXPECT_EQ(sent.back().offset, 1100u);
  EXPECT_EQ(sent.back().length, 50u);
  proto::ChunkAck a = ack_upto(1, 12);
  w.on_ack(a, 10);
  ev = events(w);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].bytes_durable, 1150u);
  EXPECT_EQ(ev[1].kind, UploadEventKind::Complete);
  EXPECT_EQ(w.upload_count(), 0u);

  // Everything held (or an empty file): complete without sending a byte.
  UploadWindow done(config(4, 64));
  done.add_upload(make_state(1, 3, 100, {{0, 3}}), 0);
  done.add_upload(make_state(2, 0), 0);
  EXPECT_TRUE(drain(done, 0).empty());
  int completes = 0;
  for (auto& e : events(done)) completes += e.kind == UploadEventKind::Complete;
  EXPECT_EQ(completes, 2);
  // A refused OPEN and a taken slot are not uploads.
  proto::UploadState err;
  err.status = proto::UploadStatus::BadTicket;
  EXPECT_FALSE(done.add_upload(err, 0));
  w.add_upload(make_state(5, 10), 0);
  EXPECT_FALSE(w.add_upload(make_state(5, 10), 0));
}

TEST(upload_window, pause_resume_cancel) {
  UploadWindow w(config(4, 4));
  w.add_upload(make_state(1, 100), 0);
  w.add_upload(make_state(2, 100), 0);
  events(w);
  ASSERT_TRUE(w.pause(1));
  auto sent = drain(w, 0);
  ASSERT_EQ(sent.size(), 4u);
  for (auto& s : sent) EXPECT_EQ(s.slot, 2u);
  ASSERT_TRUE(w.resume(1));
  w.on_ack(ack_upto(2, 2), 1);
  sent = drain(w, 1);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].slot, 1u);
  // Cancel frees the window space its chunks held and silences it.
  uint64_t before = w.in_flight_chunks();
  uint64_t mine = w.tracker(2)->in_flight_chunks();
  ASSERT_TRUE(w.cancel(2));
  EXPECT_EQ(w.in_flight_chunks(), before - mine);
  auto ev = events(w);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev.back().kind, UploadEventKind::Cancelled);
  EXPECT_EQ(ev.back().slot, 2u);
  w.on_ack(ack_upto(2, 100), 2);
  EXPECT_TRUE(events(w).empty());
  for (auto& s : drain(w, 2)) EXPECT_EQ(s.slot, 1u);
  EXPECT_FALSE(w.cancel(2));
  EXPECT_FALSE(w.pause(2));
}

TEST(upload_window, failures) {
  UploadWindow w(config(4, 4));
  w.add_upload(make_state(1, 100), 0);
  w.add_upload(make_state(2, 100), 0);
  w.add_upload(make_state(3, 100), 0);
  events(w);
  drain(w, 0);
  w.on_ack(nack(1, 0, proto::NackReason::TooLarge), 1);
  w.on_ack(nack(2, 0, proto::NackReason::UnknownSlot), 1);
  auto ev = events(w);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, UploadEventKind::Failed);
  EXPECT_EQ(ev[0].failure, UploadFailure::ChunkRefused);
  EXPECT_NE(ev[0].detail.find("too_large"), std::string::npos);
  EXPECT_EQ(ev[1].failure, UploadFailure::SlotLost);
  EXPECT_EQ(w.in_flight_chunks(), w.tracker(3)->in_flight_chunks());

  UploadWindowConfig c = config(1, 4);
  c.max_timeouts = 2;
  UploadWindow t(c);
  t.add_upload(make_state(1, 10), 0);
  events(t);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(drain(t, i == 0 ? 0 : *t.poll_timeout() - 1).size(), i == 0 ? 1u : 0u);
    t.handle_timeout(*t.poll_timeout());
    EXPECT_EQ(t.upload_count(), i < 2 ? 1u : 0u) << i;
    if (i < 2) {
      ASSERT_EQ(drain(t, 0).size(), 1u);
    }
  }
  ev = events(t);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].failure, UploadFailure::TooManyTimeouts);
}

// --- Lanes: one pool per upload, one congestion window per connection ----------------------

namespace {

std::vector<SendChunk> drain_lane(UploadWindow& w, uint64_t now, uint32_t lane) {
  std::vector<SendChunk> out;
  while (auto s = w.poll_send(now, lane)) out.push_back(*s);
  return out;
}

}  // namespace

TEST(upload_window_lanes, a_chunk_is_in_flight_on_one_lane_only) {
  UploadWindow w(config(4, 64));
  ASSERT_TRUE(w.add_lane(1));
  EXPECT_FALSE(w.add_lane(1));
  ASSERT_TRUE(w.add_upload(make_state(7, 20), 0, 0));
  // Not attached to lane 1 yet: nothing goes there.
  EXPECT_TRUE(drain_lane(w, 0, 1).empty());
  ASSERT_TRUE(w.attach(7, 1));
  EXPECT_EQ(w.attached_lanes(7), 2u);
  auto a = drain_lane(w, 0, 0);
  auto b = drain_lane(w, 0, 1);
  ASSERT_EQ(a.size(), 4u);  // each lane has its own initial window
  ASSERT_EQ(b.size(), 4u);
  std::set<uint64_t> seen;
  for (const auto& s : a) {
    EXPECT_EQ(s.lane, 0u);
    EXPECT_TRUE(seen.insert(s.index).second);
  }
  for (const auto& s : b) {
    EXPECT_EQ(s.lane, 1u);
    EXPECT_TRUE(seen.insert(s.index).second) << "chunk " << s.index << " on two lanes";
  }
  EXPECT_EQ(w.in_flight_chunks(0), 4u);
  EXPECT_EQ(w.in_flight_chunks(1), 4u);
  EXPECT_EQ(w.waiting_chunks(), 12u);
}

TEST(upload_window_lanes, acks_credit_the_sending_lane_and_rtt_only_on_it) {
  UploadWindow w(config(2, 64));
  w.add_lane(1);
  w.add_upload(make_state(1, 40), 0, 0);
  w.attach(1, 1);
  auto a = drain_lane(w, 0, 0);  // chunks 0, 1 on lane 0
  auto b = drain_lane(w, 0, 1);  // chunks 2, 3 on lane 1
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].index, 2u);
  // One ack frame on lane 0 covering all four: both lanes' books are freed, both grow (each
  // sent two acked chunks in slow start), but only lane 0 takes an RTT sample.
  proto::ChunkAck all = ack_upto(1, 4);
  w.on_ack(all, 100, 0);
  EXPECT_EQ(w.in_flight_chunks(0), 0u);
  EXPECT_EQ(w.in_flight_chunks(1), 0u);
  EXPECT_EQ(w.cwnd(0), 4u);
  EXPECT_EQ(w.cwnd(1), 4u);
  EXPECT_EQ(w.srtt_ms(0), 100u);
  EXPECT_FALSE(w.srtt_ms(1).has_value());
  // A loss (bad_hash) of a chunk lane 1 sent halves lane 1 only.
  auto b2 = drain_lane(w, 200, 1);
  ASSERT_FALSE(b2.empty());
  uint32_t before0 = w.cwnd(0);
  w.on_ack(nack(1, b2[0].index, proto::NackReason::BadHash), 210, 0);
  EXPECT_EQ(w.cwnd(0), before0);
  EXPECT_EQ(w.cwnd(1), 2u);
}

TEST(upload_window_lanes, a_removed_lane_gives_its_chunks_back_to_the_pool) {
  UploadWindow w(config(4, 64));
  w.add_lane(3);
  w.add_upload(make_state(1, 10), 0, 0);
  w.attach(1, 3);
  auto a = drain_lane(w, 0, 0);
  auto b = drain_lane(w, 0, 3);
  ASSERT_EQ(b.size(), 4u);
  w.remove_lane(3);
  EXPECT_FALSE(w.has_lane(3));
  EXPECT_EQ(w.attached_lanes(1), 1u);
  EXPECT_EQ(w.tracker(1)->in_flight_chunks(), 4u);  // lane 0's only
  // No timeout was charged and lane 0's window did not shrink.
  EXPECT_EQ(w.cwnd(0), 4u);
  // Lane 0 re-sends lane 3's chunks first once it has room.
  w.on_ack(ack_upto(1, 4), 50, 0);  // lane 0's four are durable
  auto again = drain_lane(w, 60, 0);
  std::set<uint64_t> resent;
  for (const auto& s : again) resent.insert(s.index);
  for (const auto& s : b) {
    EXPECT_TRUE(resent.count(s.index)) << s.index;
    const ChunkTracker::Sent* rec = w.tracker(1)->send_record(s.index);
    ASSERT_NE(rec, nullptr);
    EXPECT_EQ(rec->timeouts, 0u);
    EXPECT_EQ(rec->lane, 0u);
  }
  // Acks that still arrive for the removed lane's sends change nothing harmful.
  w.on_ack(ack_upto(1, 10), 70, 3);
  EXPECT_EQ(w.in_flight_chunks(0), 0u);
  auto ev = events(w);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().kind, UploadEventKind::Complete);
}

TEST(upload_window_lanes, detach_and_merge_held) {
  UploadWindow w(config(4, 64));
  w.add_lane(1);
  w.add_upload(make_state(1, 12), 0, 0);
  w.attach(1, 1);
  auto b = drain_lane(w, 0, 1);
  ASSERT_EQ(b.size(), 4u);
  ASSERT_TRUE(w.detach(1, 1));
  EXPECT_FALSE(w.attached(1, 1));
  EXPECT_EQ(w.in_flight_chunks(1), 0u);
  EXPECT_TRUE(drain_lane(w, 1, 1).empty());  // detached: lane 1 sends nothing for it
  // Another lane's UPLOAD_STATE says the server holds chunks 0..5: durable, no growth.
  uint32_t cwnd0 = w.cwnd(0);
  w.merge_held(1, make_state(1, 12, 100, {{0, 6}}));
  EXPECT_EQ(w.tracker(1)->acked_chunks(), 6u);
  EXPECT_EQ(w.cwnd(0), cwnd0);
  EXPECT_FALSE(w.srtt_ms(0).has_value());
}

TEST(upload_window_lanes, rto_is_per_lane) {
  UploadWindow w(config(2, 64));
  w.add_lane(1);
  w.add_upload(make_state(1, 20), 0, 0);
  w.attach(1, 1);
  drain_lane(w, 0, 0);
  drain_lane(w, 0, 1);
  // Lane 0 learns a 50 ms RTT (rto clamps to min 200); lane 1 keeps the initial 1000 ms.
  w.on_ack(ack_upto(1, 2), 50, 0);
  EXPECT_EQ(w.rto_ms(0), 200u);
  EXPECT_EQ(w.rto_ms(1), 1000u);
  // Lane 1's chunks (2, 3) are not timed out at 300 ms: its own RTO is 1000 ms.
  drain_lane(w, 60, 0);
  w.handle_timeout(300);
  const ChunkTracker* t = w.tracker(1);
  EXPECT_FALSE(t->send_record(2)->lost);
  EXPECT_TRUE(t->send_record(4)->lost);  // lane 0's, sent at 60, rto 200
  EXPECT_EQ(w.rto_ms(0), 400u);  // backed off
  EXPECT_EQ(w.rto_ms(1), 1000u);
}
