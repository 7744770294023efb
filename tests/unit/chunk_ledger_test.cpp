// Proves the resource server's chunk ledger: chunks are written at their offsets in any
// order; a chunk is acked only after a persisted blob lists it; duplicates re-ack without a
// second write; corrupt, out-of-range, oversized and short chunks and failed writes are
// NACKed with the right reason; the whole file is verified once; and the persisted blob
// round-trips, never claims a chunk that was not durable, and is refused when corrupted.
// How: drive ChunkLedger directly, playing the adapter (write, persist, verify) by hand.
#include <gtest/gtest.h>

#include "proto/hex.h"
#include "proto/chunk_sum.h"
#include "servers/resource/core/chunk_ledger.h"

using namespace ferry;
using namespace ferry::resource;
using Kind = LedgerAction::Kind;

namespace {

proto::Sha256 sha(std::string_view data) {
  std::string d = proto::sha256(data);
  proto::Sha256 h;
  std::copy(d.begin(), d.end(), h.begin());
  return h;
}

proto::ChunkSum sum(std::string_view data) { return proto::chunk_sum(data.data(), data.size()); }

const proto::Sha256 kFileHash = sha("the whole file");

std::vector<LedgerAction> drain(ChunkLedger& l) {
  std::vector<LedgerAction> out;
  while (auto a = l.poll_action()) out.push_back(std::move(*a));
  return out;
}

// Feeds a good chunk of the right size (content = index byte).
void feed(ChunkLedger& l, uint64_t index) {
  std::string payload(proto::chunk_length(l.file_size(), l.chunk_size(), index), char(index));
  l.on_chunk(index, payload.size(), sum(payload), sum(payload));
}

// Runs a chunk through write and persist, as a well-behaved adapter would.
void land(ChunkLedger& l, uint64_t index) {
  feed(l, index);
  for (auto& a : drain(l)) {
    if (a.kind == Kind::Write) l.on_write_done(a.index, true);
  }
  for (auto& a : drain(l)) {
    if (a.kind == Kind::Persist) l.on_persisted(a.generation);
  }
}

std::vector<uint64_t> durable_set(const ChunkLedger& l) {
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < l.total_chunks(); i++) {
    if (l.is_durable(i)) out.push_back(i);
  }
  return out;
}

}  // namespace

TEST(chunk_ledger, ack_only_after_persist) {
  ChunkLedger l(250, 100, kFileHash);
  ASSERT_EQ(l.total_chunks(), 3u);
  feed(l, 1);
  auto a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Write);
  EXPECT_EQ(a[0].index, 1u);
  EXPECT_EQ(a[0].offset, 100u);
  EXPECT_EQ(a[0].length, 100u);
  l.on_write_done(1, true);
  a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(a[0].kind, Kind::Persist) << "no ack before the blob is durable";
  EXPECT_EQ(a[0].generation, 1u);
  EXPECT_TRUE(l.upload_state(5).held.empty());
  EXPECT_EQ(l.durable_chunks(), 0u);
  l.on_persisted(a[0].generation);
  a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(a[0].kind, Kind::Ack);
  EXPECT_EQ(a[0].ack.cumulative, 0u);
  EXPECT_EQ(a[0].ack.selective, (std::vector<proto::ChunkRange>{{1, 2}}));
  EXPECT_EQ(l.upload_state(5).held, (std::vector<proto::ChunkRange>{{1, 2}}));
}

TEST(chunk_ledger, out_of_order_batches_persists_then_verifies) {
  ChunkLedger l(250, 100, kFileHash);
  feed(l, 2);
  feed(l, 0);
  auto a = drain(l);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].offset, 200u);
  EXPECT_EQ(a[0].length, 50u);  // the tail
  EXPECT_EQ(a[1].offset, 0u);
  l.on_write_done(2, true);
  auto p1 = drain(l);
  ASSERT_EQ(p1.size(), 1u);
  l.on_write_done(0, true);
  EXPECT_TRUE(drain(l).empty()) << "one Persist outstanding at a time";
  l.on_persisted(p1[0].generation);
  a = drain(l);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].kind, Kind::Persist);  // the next batch: chunk 0
  EXPECT_EQ(a[0].generation, 2u);
  EXPECT_EQ(a[1].kind, Kind::Ack);
  EXPECT_EQ(a[1].ack.cumulative, 0u);
  EXPECT_EQ(a[1].ack.selective, (std::vector<proto::ChunkRange>{{2, 3}}));
  l.on_persisted(1);  // stale generation: ignored
  EXPECT_TRUE(drain(l).empty());
  l.on_persisted(2);
  a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ack.cumulative, 1u);
  land(l, 1);
  EXPECT_TRUE(l.complete());
  a = drain(l);  // the Verify, then the final ack
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].kind, Kind::Verify);
  EXPECT_EQ(a[1].kind, Kind::Ack);
  EXPECT_EQ(a[1].ack.cumulative, 3u);
  EXPECT_TRUE(a[1].ack.selective.empty());
  l.on_verified(true);
  a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Done);
  EXPECT_TRUE(a[0].ok);
}

TEST(chunk_ledger, verify_emitted_once_and_corrupt_file_reported) {
  ChunkLedger l(200, 100, kFileHash);
  land(l, 0);
  feed(l, 1);
  drain(l);
  l.on_write_done(1, true);
  auto p = drain(l);
  l.on_persisted(p[0].generation);
  auto a = drain(l);
  int verifies = 0;
  for (auto& x : a) verifies += x.kind == Kind::Verify;
  EXPECT_EQ(verifies, 1);
  land(l, 1);  // a late duplicate: re-acked, no second Verify
  for (auto& x : drain(l)) EXPECT_NE(x.kind, Kind::Verify);
  l.on_verified(false);
  a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Done);
  EXPECT_FALSE(a[0].ok);

  ChunkLedger empty(0, 100, kFileHash);
  a = drain(empty);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Verify);
}

TEST(chunk_ledger, duplicates_reack_without_rewriting) {
  ChunkLedger l(300, 100, kFileHash);
  land(l, 0);
  feed(l, 0);  // durable duplicate
  auto a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Ack);
  EXPECT_EQ(a[0].ack.cumulative, 1u);
  feed(l, 1);
  ASSERT_EQ(drain(l).size(), 1u);  // Write
  feed(l, 1);  // duplicate while writing: the coming ack covers it
  EXPECT_TRUE(drain(l).empty());
  l.on_write_done(1, true);
  auto p = drain(l);
  feed(l, 1);  // duplicate while persisting
  EXPECT_TRUE(drain(l).empty());
  l.on_persisted(p[0].generation);
  a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ack.cumulative, 2u);
}

TEST(chunk_ledger, refusals_name_the_reason) {
  ChunkLedger l(250, 100, kFileHash);
  std::string good(100, 'g');
  std::string bad = good;
  bad[50] ^= 1;
  l.on_chunk(0, bad.size(), sum(good), sum(bad));  // corrupt in transit
  l.on_chunk(3, 100, sum(good), sum(good));  // past the end
  l.on_chunk(1, 101, sum(good), sum(good));  // oversized
  l.on_chunk(2, 51, sum(good), sum(good));  // tail chunk larger than the tail
  l.on_chunk(1, 99, sum(good), sum(good));  // short
  auto a = drain(l);
  ASSERT_EQ(a.size(), 1u) << "no Write for any refused chunk";
  ASSERT_EQ(a[0].kind, Kind::Ack);
  std::vector<proto::ChunkNack> want = {{0, proto::NackReason::BadHash},
                                        {3, proto::NackReason::OutOfRange},
                                        {1, proto::NackReason::TooLarge},
                                        {2, proto::NackReason::TooLarge},
                                        {1, proto::NackReason::BadSize}};
  EXPECT_EQ(a[0].ack.nacks, want);
  EXPECT_EQ(l.check(UINT64_MAX, 1), proto::NackReason::OutOfRange);
  EXPECT_EQ(l.check(2, 50), std::nullopt);
  // The good copy is accepted afterwards.
  l.on_chunk(0, good.size(), sum(good), sum(good));
  a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Write);
}

TEST(chunk_ledger, failed_write_nacks_and_accepts_a_resend) {
  ChunkLedger l(300, 100, kFileHash);
  feed(l, 2);
  drain(l);
  l.on_write_done(2, false);
  auto a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ack.nacks, (std::vector<proto::ChunkNack>{{2, proto::NackReason::WriteFailed}}));
  land(l, 2);
  EXPECT_TRUE(l.is_durable(2));
}

TEST(chunk_ledger, offsets_are_64bit) {
  uint64_t size = (5ull << 30) + 7;
  ChunkLedger l(size, 1u << 20, kFileHash);
  uint64_t last = l.total_chunks() - 1;
  EXPECT_EQ(last, 5120u);
  proto::ChunkSum h{};
  l.on_chunk(last, 7, h, h);
  auto a = drain(l);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].offset, 5ull << 30);
  EXPECT_EQ(a[0].length, 7u);
}

TEST(chunk_ledger, persisted_blob_roundtrips_and_claims_only_durable) {
  ChunkLedger l(1000, 10, kFileHash);  // 100 chunks
  for (uint64_t i : {0, 1, 2, 5, 7, 8, 50, 99}) land(l, i);
  std::string durable_blob = l.serialize();
  // Chunk 60 is written, its Persist is emitted but not confirmed; chunk 61 is mid-write.
  feed(l, 60);
  drain(l);
  l.on_write_done(60, true);
  auto p = drain(l);
  ASSERT_EQ(p.size(), 1u);
  feed(l, 61);
  drain(l);

  std::optional<ChunkLedger> r;
  std::string err;
  ASSERT_TRUE(ChunkLedger::restore(durable_blob, r, err)) << err;
  EXPECT_EQ(durable_set(*r), durable_set(l));
  EXPECT_EQ(r->upload_state(1).held, l.upload_state(1).held);
  EXPECT_FALSE(r->is_durable(60)) << "a chunk whose persist was never confirmed";
  EXPECT_FALSE(r->is_durable(61));
  EXPECT_EQ(r->file_size(), 1000u);
  EXPECT_EQ(r->chunk_size(), 10u);
  EXPECT_EQ(r->file_hash(), kFileHash);
  EXPECT_EQ(r->generation(), l.generation() - 1);
  EXPECT_TRUE(drain(*r).empty());
  // The Persist blob includes the chunk it is persisting: after the adapter synced it, a
  // crash restores it.
  ASSERT_TRUE(ChunkLedger::restore(p[0].blob, r, err)) << err;
  EXPECT_TRUE(r->is_durable(60));
  EXPECT_FALSE(r->is_durable(61));
  EXPECT_EQ(r->durable_chunks(), 9u);
  // A restored ledger goes on: the missing chunks land and it completes.
  for (uint64_t i = 0; i < 100; i++) {
    if (!r->is_durable(i)) land(*r, i);
  }
  EXPECT_TRUE(r->complete());
}

TEST(chunk_ledger, bitmap_encoding_for_holey_state) {
  ChunkLedger l(10000, 10, kFileHash);  // 1000 chunks, every third durable
  for (uint64_t i = 0; i < 1000; i += 3) land(l, i);
  std::string blob = l.serialize();
  // 334 ranges would take 5 KiB; the bitmap is 125 bytes.
  EXPECT_LT(blob.size(), 300u);
  std::optional<ChunkLedger> r;
  std::string err;
  ASSERT_TRUE(ChunkLedger::restore(blob, r, err)) << err;
  EXPECT_EQ(durable_set(*r), durable_set(l));
  // A complete restored ledger asks for verification again (the crash may have hit it).
  ChunkLedger full(30, 10, kFileHash);
  for (uint64_t i = 0; i < 3; i++) land(full, i);
  ASSERT_TRUE(ChunkLedger::restore(full.serialize(), r, err)) << err;
  auto a = drain(*r);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Verify);
}

TEST(chunk_ledger, corrupted_blob_refused) {
  ChunkLedger l(100000, 10, kFileHash);  // 10000 chunks, 3 ranges: the range encoding
  for (uint64_t i : {0, 3, 4, 90}) land(l, i);
  const std::string blob = l.serialize();
  ASSERT_LT(blob.size(), 200u);
  std::optional<ChunkLedger> r;
  std::string err;
  for (size_t i = 0; i < blob.size(); i++) {
    std::string b = blob;
    b[i] ^= 0x20;
    EXPECT_FALSE(ChunkLedger::restore(b, r, err)) << "flipped byte " << i;
  }
  for (size_t n = 0; n < blob.size(); n++) {
    EXPECT_FALSE(ChunkLedger::restore(blob.substr(0, n), r, err)) << "truncated to " << n;
  }
  EXPECT_FALSE(ChunkLedger::restore(blob + "x", r, err));
  // A well-checksummed blob from a future version is refused by name.
  std::string future = blob.substr(0, blob.size() - 32);
  future[4] = 2;
  future += proto::sha256(future);
  EXPECT_FALSE(ChunkLedger::restore(future, r, err));
  EXPECT_NE(err.find("unknown version 2"), std::string::npos) << err;
  // A well-checksummed blob that claims a chunk past the end is refused.
  std::string lying = blob.substr(0, blob.size() - 32);
  size_t last_end = lying.size() - 8;
  lying[last_end + 6] = char(10001 >> 8);  // last range now ends at 10001 > 10000 chunks
  lying[last_end + 7] = char(10001 & 0xff);
  lying += proto::sha256(lying);
  EXPECT_FALSE(ChunkLedger::restore(lying, r, err));
  EXPECT_NE(err.find("bad range"), std::string::npos) << err;
  // The bitmap encoding's spare bits must stay clear.
  ChunkLedger small(995, 10, kFileHash);  // 100 chunks: 13 bitmap bytes, 4 spare bits
  land(small, 7);
  land(small, 70);
  std::string bits = small.serialize();
  bits = bits.substr(0, bits.size() - 32);
  bits.back() = static_cast<char>(bits.back() | 0x80);  // chunk 103
  bits += proto::sha256(bits);
  EXPECT_FALSE(ChunkLedger::restore(bits, r, err));
  EXPECT_NE(err.find("past the end"), std::string::npos) << err;
}
