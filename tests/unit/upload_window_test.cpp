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
