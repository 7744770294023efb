// What: ResdCore, the resource server's sans-I/O core — HELLO, UPLOAD_OPEN with good, forged,
// expired, wrong-kind and other-user tickets, out-of-order/duplicate/corrupt/oversized/
// out-of-range chunks, chunks for unopened slots, completion, re-OPEN of a finished upload,
// lanes (one upload on several connections), cancel, expiry, disk full, restart from a ledger
// blob (good and corrupt), back-pressure, and the chat link (peer_auth mac, outbox, cancel
// pushes, throttled progress).
// How: the test plays the adapter. It feeds frames and the time, runs every Job in memory (a
// std::string per upload stands in for the data file) and decodes what the core sends.
// No sockets, no threads, no sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include "proto/chunk_sum.h"
#include "proto/hex.h"
#include "proto/json.h"
#include "proto/ticket.h"
#include "proto/upload_frames.h"
#include "servers/resource/core/frame_reader.h"
#include "servers/resource/core/resd_core.h"

namespace {

using namespace ferry;
using namespace ferry::resource;
using proto::FrameType;
using proto::NackReason;
using proto::UploadStatus;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";
constexpr int64_t kT0 = 1'760'000'000'000;

proto::Sha256 sha(std::string_view data) {
  std::string d = proto::sha256(data);
  proto::Sha256 h;
  std::memcpy(h.data(), d.data(), h.size());
  return h;
}

proto::ChunkSum sum(std::string_view data) { return proto::chunk_sum(data.data(), data.size()); }

std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

struct Out {
  FrameType type;
  std::string body;
};

class Harness {
 public:
  explicit Harness(ResdConfig cfg = {}) : cfg_(fill(std::move(cfg))), core(cfg_) {}

  static ResdConfig fill(ResdConfig c) {
    if (c.key.empty()) c.key = kKey;
    return c;
  }

  // ---- driving ----
  void connect(ConnId c, bool hello = true) {
    core.on_open(c, now);
    if (hello) {
      send(c, FrameType::Hello, R"({"proto":1,"agent":"test"})");
      auto f = next(c);
      ASSERT_TRUE(f);
      ASSERT_EQ(f->type, FrameType::Hello);
    }
  }
  void send_raw(ConnId c, const std::string& bytes) {
    core.on_bytes(c, bytes.data(), bytes.size(), now);
    run();
  }
  void send(ConnId c, FrameType t, std::string_view body) {
    std::string f;
    proto::encode_frame(f, t, body);
    send_raw(c, f);
  }
  void open(ConnId c, uint32_t slot, const std::string& ticket) {
    std::string f;
    proto::encode_upload_open(f, {slot, ticket});
    send_raw(c, f);
  }
  void chunk(ConnId c, uint32_t slot, uint64_t index, std::string_view payload,
             std::optional<proto::ChunkSum> claimed = std::nullopt) {
    std::string f;
    proto::encode_chunk(f, slot, index, claimed ? *claimed : sum(payload), payload);
    send_raw(c, f);
  }
  void advance(int64_t ms) {
    now += ms;
    if (now >= core.poll_timeout()) core.handle_timeout(now);
    run();
  }

  // Runs queued jobs in memory until none are left (unless holding).
  void run() {
    Job j;
    while (core.poll_job(j)) held.push_back(std::move(j));
    while (!hold && !held.empty()) {
      Job job = std::move(held.front());
      held.pop_front();
      JobResult r = execute(job);
      core.on_job_done(std::move(r), now);
      while (core.poll_job(j)) held.push_back(std::move(j));
    }
  }
  void release() {
    hold = false;
    run();
  }

  JobResult execute(Job& job) {
    JobResult r;
    r.kind = job.kind;
    r.message_id = job.message_id;
    r.ok = true;
    kinds.push_back(job.kind);
    switch (job.kind) {
      case JobKind::Create:
        if (disk_full) {
          r.ok = false;
          r.error = ENOSPC;
          r.message = "no space";
        } else {
          files[job.message_id] = std::string(job.meta.file_size, '\0');
        }
        break;
      case JobKind::Chunk: {
        r.conn = job.conn;
        r.index = job.index;
        r.length = job.payload_len;
        r.claimed = job.claimed;
        r.computed = sum(job.payload());
        if (r.computed == r.claimed) {
          writes[job.message_id]++;
          if (fail_writes) {
            r.ok = false;
            r.error = ENOSPC;
          } else {
            files[job.message_id].replace(job.offset, job.payload_len, job.payload());
          }
        }
        break;
      }
      case JobKind::Persist:
        blobs[job.message_id] = job.blob;
        r.generation = job.generation;
        break;
      case JobKind::Bind:
        if (fail_binds) {
          r.ok = false;
          r.error = EIO;
          r.message = "meta write failed";
        } else {
          bound_meta[job.message_id] = job.meta.file_hash;
        }
        break;
      case JobKind::Verify:
        r.ok = sha(files[job.message_id]) == job.meta.file_hash;
        break;
      case JobKind::Finalize:
        finalized.insert(job.message_id);
        r.duplicate = content_stored;
        break;
      case JobKind::Discard:
        discarded.insert(job.message_id);
        break;
      case JobKind::Delete:
        deleted.insert(job.message_id);
        files.erase(job.message_id);
        break;
      case JobKind::Unnotify:
        unnotified.insert(job.message_id);
        break;
      case JobKind::Flush:
        flushed[job.message_id]++;
        break;
    }
    return r;
  }

  // ---- observing ----
  std::optional<Out> next(ConnId c) {
    drain();
    auto& q = inbox[c];
    if (q.empty()) return std::nullopt;
    Out o = std::move(q.front());
    q.pop_front();
    return o;
  }
  void drain() {
    ConnId id;
    std::string bytes;
    while (core.poll_send(id, bytes)) {
      auto& d = decoders.try_emplace(id, 64u << 20).first->second;
      d.feed(bytes.data(), bytes.size());
      proto::Frame f;
      while (d.next(f) == proto::DecodeStatus::Ready) {
        inbox[id].push_back({f.type, std::string(f.body)});
      }
    }
    while (core.poll_close(id)) closed.insert(id);
  }
  proto::UploadState state(ConnId c) {
    auto f = next(c);
    EXPECT_TRUE(f);
    proto::UploadState s;
    std::string err;
    if (!f) return s;
    EXPECT_EQ(f->type, FrameType::UploadState);
    EXPECT_TRUE(proto::decode_upload_state(f->body, s, err)) << err;
    return s;
  }
  proto::ChunkAck ack(ConnId c) {
    auto f = next(c);
    EXPECT_TRUE(f);
    proto::ChunkAck a;
    std::string err;
    if (!f) return a;
    EXPECT_EQ(f->type, FrameType::ChunkAck);
    EXPECT_TRUE(proto::decode_chunk_ack(f->body, a, err)) << err;
    return a;
  }
  proto::UploadDone done(ConnId c) {
    auto f = next(c);
    EXPECT_TRUE(f);
    proto::UploadDone d;
    std::string err;
    if (!f) return d;
    EXPECT_EQ(f->type, FrameType::UploadDone);
    EXPECT_TRUE(proto::decode_upload_done(f->body, d, err)) << err;
    return d;
  }
  std::string error_code(ConnId c) {
    auto f = next(c);
    if (!f || f->type != FrameType::Error) return "";
    proto::Json j = proto::json_parse(f->body);
    const cJSON* code = cJSON_GetObjectItem(j.get(), "code");
    return cJSON_IsString(code) ? code->valuestring : "";
  }

  // ---- tickets ----
  std::string ticket(uint64_t user, uint64_t message, std::string_view content,
                     int64_t expires = kT0 + 3600000,
                     proto::TicketKind kind = proto::TicketKind::Upload,
                     std::string_view key = kKey) {
    proto::TicketClaims c;
    c.kind = kind;
    c.user_id = user;
    c.message_id = message;
    c.size = content.size();
    c.sha256_hex = proto::hex_encode(proto::sha256(content));
    c.expires_ms = expires;
    return proto::ticket_sign(c, key);
  }
  // A ticket for sending before the hash is known: claim "h" empty.
  std::string unbound_ticket(uint64_t user, uint64_t message, uint64_t size) {
    proto::TicketClaims c;
    c.user_id = user;
    c.message_id = message;
    c.size = size;
    c.expires_ms = kT0 + 3600000;
    return proto::ticket_sign(c, kKey);
  }
  size_t count(JobKind k) const { return std::count(kinds.begin(), kinds.end(), k); }

  ResdConfig cfg_;
  ResdCore core;
  int64_t now = kT0;
  bool hold = false;
  std::map<uint64_t, int> flushed;  // Flush jobs per upload
  bool disk_full = false;
  bool fail_writes = false;
  bool fail_binds = false;
  std::map<uint64_t, proto::Sha256> bound_meta;  // Bind jobs run: the hash they wrote
  std::deque<Job> held;
  std::vector<JobKind> kinds;
  std::map<uint64_t, std::string> files;
  std::map<uint64_t, std::string> blobs;
  std::map<uint64_t, int> writes;
  std::set<uint64_t> finalized, deleted, unnotified, discarded;
  bool content_stored = false;  // Finalize finds the content in files/ already
  std::set<ConnId> closed;
  std::map<ConnId, proto::FrameDecoder> decoders;
  std::map<ConnId, std::deque<Out>> inbox;
};

constexpr uint64_t kMiB = 1u << 20;

std::string piece(const std::string& file, uint64_t index, uint32_t chunk = kMiB) {
  return file.substr(index * chunk, chunk);
}

// Uploads every chunk of `file` in the given order and expects acks for each.
void upload_all(Harness& h, ConnId c, uint32_t slot, const std::string& file,
                std::vector<uint64_t> order) {
  for (uint64_t i : order) {
    h.chunk(c, slot, i, piece(file, i));
    proto::ChunkAck a = h.ack(c);
    EXPECT_TRUE(a.nacks.empty());
  }
}

TEST(ResourceCore, hello_required_first) {
  Harness h;
  h.connect(1, false);
  h.open(1, 1, "x");
  EXPECT_EQ(h.error_code(1), "hello_required");
  EXPECT_TRUE(h.closed.count(1));
}

TEST(ResourceCore, hello_announces_max_frame) {
  Harness h;
  h.core.on_open(1, h.now);
  h.send(1, FrameType::Hello, R"({"proto":1})");
  auto f = h.next(1);
  ASSERT_TRUE(f);
  proto::Json j = proto::json_parse(f->body);
  uint64_t max = 0;
  std::string err;
  ASSERT_TRUE(proto::json_get_u64(j.get(), "max_frame", max, err));
  EXPECT_EQ(max, kMaxFrameBody);
  EXPECT_GE(max, kLargeChunkBytes + proto::kChunkPrefixBytes);
}

TEST(ResourceCore, chunk_size_policy) {
  EXPECT_EQ(proto::resd_chunk_size(0), kSmallChunkBytes);
  EXPECT_EQ(proto::resd_chunk_size(kLargeFileBytes - 1), kSmallChunkBytes);
  EXPECT_EQ(proto::resd_chunk_size(kLargeFileBytes), kLargeChunkBytes);
  EXPECT_EQ(proto::resd_chunk_size(5ull << 40), kLargeChunkBytes);
}

TEST(ResourceCore, open_good_ticket_reports_geometry) {
  Harness h;
  h.connect(1);
  std::string file = pattern(3 * kMiB + 100, 1);
  h.open(1, 7, h.ticket(5, 42, file));
  proto::UploadState s = h.state(1);
  EXPECT_EQ(s.slot, 7u);
  EXPECT_EQ(s.status, UploadStatus::Ok);
  EXPECT_EQ(s.chunk_size, kMiB);
  EXPECT_EQ(s.total_chunks, 4u);
  EXPECT_EQ(s.file_size, file.size());
  EXPECT_TRUE(s.held.empty());
  EXPECT_TRUE(h.core.has_upload(42));
}

TEST(ResourceCore, open_refuses_forged_expired_wrong_kind_and_malformed_tickets) {
  Harness h;
  h.connect(1);
  std::string file = pattern(1000, 2);
  h.open(1, 1,
         h.ticket(5, 42, file, kT0 + 1000, proto::TicketKind::Upload,
                  "another key entirely, not ours!!"));
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
  h.open(1, 2, h.ticket(5, 42, file, kT0 - 1));
  EXPECT_EQ(h.state(1).status, UploadStatus::TicketExpired);
  h.open(1, 3, h.ticket(5, 42, file, kT0 + 1000, proto::TicketKind::Download));
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
  h.open(1, 4, "ferry1.garbage");
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
  // A valid ticket with one character of its claims changed. (Not its last character: that
  // one carries two spare base64 bits, so some flips decode to the same MAC.)
  std::string t = h.ticket(5, 42, file);
  t[12] = t[12] == 'A' ? 'B' : 'A';
  h.open(1, 5, t);
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
  EXPECT_EQ(h.core.upload_count(), 0u);
  EXPECT_FALSE(h.closed.count(1));  // refusals are not fatal
  EXPECT_TRUE(h.kinds.empty());     // and create nothing
}

TEST(ResourceCore, another_users_ticket_for_the_same_message_is_refused) {
  Harness h;
  h.connect(1);
  h.connect(2);
  std::string file = pattern(2 * kMiB, 3);
  h.open(1, 1, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  h.open(2, 1, h.ticket(6, 42, file));
  EXPECT_EQ(h.state(2).status, UploadStatus::BadTicket);
  // The owner is untouched and keeps uploading.
  h.chunk(1, 1, 0, piece(file, 0));
  EXPECT_TRUE(h.ack(1).nacks.empty());
}

TEST(ResourceCore, too_large_file_is_refused) {
  ResdConfig cfg;
  cfg.max_file_size = 1000;
  Harness h(cfg);
  h.connect(1);
  h.open(1, 1, h.ticket(5, 42, pattern(1001, 1)));
  EXPECT_EQ(h.state(1).status, UploadStatus::TooLarge);
}

TEST(ResourceCore, out_of_order_chunks_with_duplicates_complete_and_verify) {
  Harness h;
  h.connect(1);
  std::string file = pattern(4 * kMiB + 12345, 4);
  h.open(1, 3, h.ticket(5, 42, file));
  ASSERT_EQ(h.state(1).total_chunks, 5u);
  h.chunk(1, 3, 4, piece(file, 4));
  proto::ChunkAck a = h.ack(1);
  EXPECT_EQ(a.slot, 3u);
  EXPECT_EQ(a.cumulative, 0u);
  ASSERT_EQ(a.selective.size(), 1u);
  EXPECT_EQ(a.selective[0], (proto::ChunkRange{4, 5}));
  h.chunk(1, 3, 2, piece(file, 2));
  h.ack(1);
  h.chunk(1, 3, 2, piece(file, 2));  // duplicate of a durable chunk: acked again, not written
  a = h.ack(1);
  EXPECT_EQ(a.selective.size(), 2u);
  EXPECT_EQ(h.writes[42], 2);
  h.chunk(1, 3, 0, piece(file, 0));
  a = h.ack(1);
  EXPECT_EQ(a.cumulative, 1u);
  h.chunk(1, 3, 3, piece(file, 3));
  h.ack(1);
  h.chunk(1, 3, 1, piece(file, 1));
  a = h.ack(1);
  EXPECT_EQ(a.cumulative, 5u);
  EXPECT_TRUE(a.selective.empty());
  proto::UploadDone d = h.done(1);
  EXPECT_EQ(d.status, UploadStatus::Ok);
  EXPECT_EQ(d.file_size, file.size());
  EXPECT_EQ(d.file_hash, sha(file));
  EXPECT_EQ(h.files[42], file);
  EXPECT_TRUE(h.finalized.count(42));
  EXPECT_TRUE(h.core.is_done(42));
  EXPECT_FALSE(h.core.has_upload(42));
  EXPECT_EQ(h.writes[42], 5);
  // The slot is free again after UPLOAD_DONE.
  h.chunk(1, 3, 0, piece(file, 0));
  EXPECT_EQ(h.ack(1).nacks.at(0).reason, NackReason::UnknownSlot);
}

// Content that files/ holds already stays there; the new data file is removed by a Discard
// issued after UPLOAD_DONE went out (freeing a big file's blocks took 0.27 s per GiB, which
// READY used to wait for). Without a duplicate there is nothing to discard.
TEST(ResourceCore, duplicate_content_is_discarded_after_done) {
  for (bool stored : {false, true}) {
    Harness h;
    h.content_stored = stored;
    h.connect(1);
    std::string file = pattern(2 * kMiB, 9);
    h.open(1, 3, h.ticket(5, 42, file));
    ASSERT_EQ(h.state(1).total_chunks, 2u);
    h.chunk(1, 3, 0, piece(file, 0));
    h.ack(1);
    h.chunk(1, 3, 1, piece(file, 1));
    h.ack(1);
    EXPECT_EQ(h.done(1).status, UploadStatus::Ok) << stored;
    EXPECT_TRUE(h.core.is_done(42));
    EXPECT_EQ(h.discarded.count(42), stored ? 1u : 0u);
    auto fin = std::find(h.kinds.begin(), h.kinds.end(), JobKind::Finalize);
    auto dis = std::find(h.kinds.begin(), h.kinds.end(), JobKind::Discard);
    ASSERT_NE(fin, h.kinds.end());
    EXPECT_EQ(dis != h.kinds.end(), stored);
    if (stored) {
      EXPECT_LT(fin, dis);
    }
    EXPECT_EQ(h.core.jobs_in_flight(), 0u) << stored;
  }
}

TEST(ResourceCore, corrupt_chunk_is_nacked_and_accepted_when_resent) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 5);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  std::string bad = piece(file, 1);
  bad[100] ^= 1;
  h.chunk(1, 1, 1, bad, sum(piece(file, 1)));
  proto::ChunkAck a = h.ack(1);
  ASSERT_EQ(a.nacks.size(), 1u);
  EXPECT_EQ(a.nacks[0].index, 1u);
  EXPECT_EQ(a.nacks[0].reason, NackReason::BadHash);
  EXPECT_EQ(h.writes[42], 0);  // a refused chunk is never written
  upload_all(h, 1, 1, file, {1, 0});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  EXPECT_EQ(h.files[42], file);
}

TEST(ResourceCore, out_of_range_oversized_and_short_chunks_are_nacked) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB + 10, 6);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.chunk(1, 1, 2, "abc");
  EXPECT_EQ(h.ack(1).nacks.at(0).reason, NackReason::OutOfRange);
  h.chunk(1, 1, 1, std::string(11, 'x'));  // the tail chunk is 10 bytes
  EXPECT_EQ(h.ack(1).nacks.at(0).reason, NackReason::TooLarge);
  h.chunk(1, 1, 0, std::string(100, 'x'));
  EXPECT_EQ(h.ack(1).nacks.at(0).reason, NackReason::BadSize);
  h.chunk(1, 1, UINT64_MAX, "x");
  EXPECT_EQ(h.ack(1).nacks.at(0).reason, NackReason::OutOfRange);
  EXPECT_EQ(h.writes[42], 0);
  EXPECT_FALSE(h.closed.count(1));
}

TEST(ResourceCore, chunk_for_unopened_slot_is_nacked) {
  Harness h;
  h.connect(1);
  h.chunk(1, 9, 0, "hello");
  proto::ChunkAck a = h.ack(1);
  EXPECT_EQ(a.slot, 9u);
  EXPECT_EQ(a.nacks.at(0).reason, NackReason::UnknownSlot);
  EXPECT_TRUE(h.kinds.empty());
}

TEST(ResourceCore, chunk_larger_than_max_frame_is_fatal) {
  Harness h;
  h.connect(1);
  std::string hdr;
  proto::encode_frame(hdr, FrameType::Chunk, "");
  hdr[0] = 0x7f;  // ~2 GiB announced
  h.send_raw(1, hdr);
  EXPECT_EQ(h.error_code(1), "frame_too_large");
  EXPECT_TRUE(h.closed.count(1));
}

TEST(ResourceCore, undecodable_bodies_and_unknown_types_are_fatal) {
  Harness h;
  h.connect(1);
  h.send(1, FrameType::UploadOpen, "xy");
  EXPECT_EQ(h.error_code(1), "bad_frame");
  EXPECT_TRUE(h.closed.count(1));
  h.connect(2);
  h.send_raw(2, std::string("\0\0\0\0\x7e", 5));
  EXPECT_EQ(h.error_code(2), "bad_frame_type");
  h.connect(3);
  h.send(3, FrameType::ChunkAck, "");
  EXPECT_EQ(h.error_code(3), "unexpected_frame");
  h.connect(4);
  h.send(4, FrameType::Chunk, "short");
  EXPECT_EQ(h.error_code(4), "bad_frame");
}

TEST(ResourceCore, slot_in_use_and_ping) {
  Harness h;
  h.connect(1);
  std::string file = pattern(100, 7);
  h.open(1, 1, h.ticket(5, 42, file));
  // A 100-byte file: one chunk. It is still open until a chunk arrives.
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  h.open(1, 1, h.ticket(5, 43, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::SlotInUse);
  h.send(1, FrameType::Ping, "abc");
  auto f = h.next(1);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type, FrameType::Pong);
  EXPECT_EQ(f->body, "abc");
}

TEST(ResourceCore, many_uploads_on_one_connection) {
  Harness h;
  h.connect(1);
  std::string a = pattern(kMiB + 1, 8), b = pattern(300, 9);
  h.open(1, 1, h.ticket(5, 42, a));
  h.open(1, 2, h.ticket(5, 43, b));
  EXPECT_EQ(h.state(1).slot, 1u);
  EXPECT_EQ(h.state(1).slot, 2u);
  h.chunk(1, 2, 0, b);
  EXPECT_EQ(h.ack(1).slot, 2u);
  EXPECT_EQ(h.done(1).slot, 2u);
  upload_all(h, 1, 1, a, {1, 0});
  EXPECT_EQ(h.done(1).slot, 1u);
  EXPECT_EQ(h.files[42], a);
  EXPECT_EQ(h.files[43], b);
}

TEST(ResourceCore, empty_file_completes_on_open) {
  Harness h;
  h.connect(1);
  h.open(1, 1, h.ticket(5, 42, ""));
  proto::UploadState s = h.state(1);
  EXPECT_EQ(s.total_chunks, 0u);
  proto::UploadDone d = h.done(1);
  EXPECT_EQ(d.status, UploadStatus::Ok);
  EXPECT_EQ(d.file_hash, sha(""));
}

TEST(ResourceCore, finished_upload_reopened_gets_done_at_once) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB + 5, 10);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  upload_all(h, 1, 1, file, {0, 1});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  h.connect(2);
  h.open(2, 4, h.ticket(5, 42, file));
  proto::UploadState s = h.state(2);
  EXPECT_EQ(s.status, UploadStatus::Ok);
  ASSERT_EQ(s.held.size(), 1u);
  EXPECT_EQ(s.held[0], (proto::ChunkRange{0, 2}));
  proto::UploadDone d = h.done(2);
  EXPECT_EQ(d.slot, 4u);
  EXPECT_EQ(d.status, UploadStatus::Ok);
  EXPECT_EQ(d.file_hash, sha(file));
  // Another user's ticket for the finished message is still refused.
  h.open(2, 5, h.ticket(6, 42, file));
  EXPECT_EQ(h.state(2).status, UploadStatus::BadTicket);
}

// Lanes (docs/protocol-upload.md): one upload open on several connections at once, each
// chunk acked on the lane it came in on, UPLOAD_DONE on every lane.
TEST(ResourceCore, an_open_on_another_connection_adds_a_lane) {
  Harness h;
  h.connect(1);
  std::string file = pattern(4 * kMiB, 11);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.chunk(1, 1, 0, piece(file, 0));
  h.ack(1);
  h.connect(2);
  h.open(2, 8, h.ticket(5, 42, file));
  proto::UploadState s = h.state(2);
  EXPECT_EQ(s.slot, 8u);
  ASSERT_EQ(s.held.size(), 1u);
  EXPECT_EQ(s.held[0], (proto::ChunkRange{0, 1}));
  // Both lanes carry chunks; each ack goes to the lane that sent the chunk, and says what the
  // whole upload holds.
  h.chunk(1, 1, 2, piece(file, 2));
  proto::ChunkAck a1 = h.ack(1);
  EXPECT_EQ(a1.slot, 1u);
  EXPECT_EQ(a1.cumulative, 1u);
  EXPECT_FALSE(h.next(2));
  h.chunk(2, 8, 1, piece(file, 1));
  proto::ChunkAck a2 = h.ack(2);
  EXPECT_EQ(a2.slot, 8u);
  EXPECT_EQ(a2.cumulative, 3u);
  EXPECT_FALSE(h.next(1));
  h.chunk(1, 1, 3, piece(file, 3));
  EXPECT_EQ(h.ack(1).cumulative, 4u);
  // Every lane hears the verdict.
  proto::UploadDone d1 = h.done(1);
  proto::UploadDone d2 = h.done(2);
  EXPECT_EQ(d1.status, UploadStatus::Ok);
  EXPECT_EQ(d1.slot, 1u);
  EXPECT_EQ(d2.status, UploadStatus::Ok);
  EXPECT_EQ(d2.slot, 8u);
  EXPECT_EQ(d2.file_hash, sha(file));
  EXPECT_FALSE(h.next(1));
  EXPECT_FALSE(h.next(2));
}

TEST(ResourceCore, a_reopen_on_the_same_connection_replaces_its_slot) {
  Harness h;
  h.connect(1);
  std::string file = pattern(3 * kMiB, 12);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.open(1, 2, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).slot, 2u);
  h.chunk(1, 1, 0, piece(file, 0));  // the replaced slot is gone
  proto::ChunkAck a = h.ack(1);
  EXPECT_EQ(a.slot, 1u);
  ASSERT_EQ(a.nacks.size(), 1u);
  EXPECT_EQ(a.nacks[0].reason, NackReason::UnknownSlot);
  upload_all(h, 1, 2, file, {0, 1, 2});
  EXPECT_EQ(h.done(1).slot, 2u);
  EXPECT_FALSE(h.next(1));
}

TEST(ResourceCore, lanes_are_capped_and_the_oldest_goes_first) {
  ResdConfig cfg;
  cfg.max_lanes = 2;
  Harness h(cfg);
  std::string file = pattern(2 * kMiB, 13);
  for (ConnId c : {1, 2, 3}) {
    h.connect(c);
    h.open(c, 7, h.ticket(5, 42, file));
    EXPECT_EQ(h.state(c).status, UploadStatus::Ok);
  }
  h.chunk(1, 7, 0, piece(file, 0));
  EXPECT_EQ(h.ack(1).nacks.at(0).reason, NackReason::UnknownSlot);
  h.chunk(2, 7, 0, piece(file, 0));
  EXPECT_TRUE(h.ack(2).nacks.empty());
  h.chunk(3, 7, 1, piece(file, 1));
  EXPECT_TRUE(h.ack(3).nacks.empty());
  EXPECT_EQ(h.done(2).status, UploadStatus::Ok);
  EXPECT_EQ(h.done(3).status, UploadStatus::Ok);
  EXPECT_FALSE(h.next(1));
}

TEST(ResourceCore, a_chunk_sent_on_two_lanes_is_acked_on_both) {
  Harness h;
  std::string file = pattern(2 * kMiB, 14);
  for (ConnId c : {1, 2}) {
    h.connect(c);
    h.open(c, 3, h.ticket(5, 42, file));
    h.state(c);
  }
  h.hold = true;  // the first copy is still at a worker when the second arrives
  h.chunk(1, 3, 0, piece(file, 0));
  h.chunk(2, 3, 0, piece(file, 0));
  h.release();
  EXPECT_EQ(h.ack(1).cumulative, 1u);
  EXPECT_EQ(h.ack(2).cumulative, 1u);
  EXPECT_EQ(h.writes[42], 1);  // written once
  // A lane that closed is simply skipped; the other finishes the upload.
  h.core.on_close(1);
  h.chunk(2, 3, 1, piece(file, 1));
  EXPECT_EQ(h.ack(2).cumulative, 2u);
  EXPECT_EQ(h.done(2).status, UploadStatus::Ok);
}

TEST(ResourceCore, owner_disconnect_keeps_the_upload_for_a_later_open) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 12);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.chunk(1, 1, 1, piece(file, 1));
  h.ack(1);
  h.core.on_close(1);
  h.connect(2);
  h.open(2, 1, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(2).held.at(0), (proto::ChunkRange{1, 2}));
}

TEST(ResourceCore, cancel_deletes_partial_and_refuses_reopen) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 13);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.chunk(1, 1, 0, piece(file, 0));
  h.ack(1);
  h.core.cancel(42, h.now);
  h.run();
  proto::UploadDone d = h.done(1);
  EXPECT_EQ(d.status, UploadStatus::Cancelled);
  EXPECT_TRUE(h.deleted.count(42));
  EXPECT_FALSE(h.core.has_upload(42));
  h.open(1, 2, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::Cancelled);
  h.core.cancel(999, h.now);  // unknown: a no-op
  h.run();
  EXPECT_FALSE(h.deleted.count(999));
}

TEST(ResourceCore, cancel_waits_for_jobs_in_flight_before_deleting) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 14);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.hold = true;
  h.chunk(1, 1, 0, piece(file, 0));
  h.core.cancel(42, h.now);
  h.run();
  ASSERT_EQ(h.held.size(), 1u);  // only the chunk: no Delete while it is in flight
  EXPECT_EQ(h.held.front().kind, JobKind::Chunk);
  h.release();
  EXPECT_TRUE(h.deleted.count(42));
  EXPECT_EQ(h.kinds.back(), JobKind::Delete);
  EXPECT_EQ(h.core.jobs_in_flight(), 0u);
}

TEST(ResourceCore, idle_incomplete_upload_expires) {
  ResdConfig cfg;
  cfg.upload_ttl_ms = 10000;
  cfg.idle_timeout_ms = 1000000;
  Harness h(cfg);
  h.connect(1);
  std::string file = pattern(2 * kMiB, 15);
  h.open(1, 1, h.ticket(5, 42, file, kT0 + 3600000));
  h.state(1);
  h.advance(5000);
  h.chunk(1, 1, 0, piece(file, 0));  // activity pushes the expiry back
  h.ack(1);
  h.advance(8000);
  EXPECT_TRUE(h.core.has_upload(42));
  h.advance(4000);
  h.advance(2000);
  EXPECT_FALSE(h.core.has_upload(42));
  EXPECT_TRUE(h.deleted.count(42));
  EXPECT_EQ(h.done(1).status, UploadStatus::Expired);
  // A new OPEN starts over from nothing.
  h.open(1, 2, h.ticket(5, 42, file, kT0 + 3600000));
  proto::UploadState s = h.state(1);
  EXPECT_EQ(s.status, UploadStatus::Ok);
  EXPECT_TRUE(s.held.empty());
}

TEST(ResourceCore, disk_full_on_create_then_resumes_when_space_frees) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB, 16);
  h.disk_full = true;
  h.open(1, 1, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::DiskFull);
  EXPECT_FALSE(h.core.has_upload(42));
  EXPECT_FALSE(h.closed.count(1));
  h.disk_full = false;
  h.open(1, 1, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  upload_all(h, 1, 1, file, {0});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
}

// A fresh upload's chunks may ride right behind its first OPEN (the SDK sends them before
// UPLOAD_STATE). They wait, counted against the connection's read bound, until the file
// exists, and are then taken as if they had come after the answer.
TEST(ResourceCore, chunks_behind_the_first_open_wait_for_the_file) {
  ResdConfig cfg;
  cfg.max_queued_bytes = 2 * kMiB;
  Harness h(cfg);
  h.connect(1);
  std::string file = pattern(3 * kMiB, 41);
  h.hold = true;
  h.open(1, 1, h.ticket(5, 42, file));
  h.chunk(1, 1, 0, piece(file, 0));
  h.chunk(1, 1, 2, piece(file, 2));
  EXPECT_FALSE(h.next(1)) << "no NACK, no answer while the file is being created";
  EXPECT_FALSE(h.core.wants_read(1)) << "the bytes held count as queued (2 MiB here)";
  h.release();
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  proto::ChunkAck a = h.ack(1);  // one per chunk taken, the last one covers both
  EXPECT_TRUE(a.nacks.empty());
  if (a.selective.empty()) a = h.ack(1);
  EXPECT_EQ(a.cumulative, 1u);
  ASSERT_EQ(a.selective.size(), 1u);
  EXPECT_EQ(a.selective[0], (proto::ChunkRange{2, 3}));
  EXPECT_TRUE(h.core.wants_read(1));
  upload_all(h, 1, 1, file, {1});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  EXPECT_EQ(h.files[42], file);
  EXPECT_EQ(h.writes[42], 3);
}

// The create fails (disk full): the OPEN's answer says so, the chunks held behind it are
// dropped without a word, and their bytes no longer count against the connection.
TEST(ResourceCore, chunks_behind_a_failed_create_are_dropped) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 42);
  h.hold = true;
  h.disk_full = true;
  h.open(1, 1, h.ticket(5, 42, file));
  h.chunk(1, 1, 0, piece(file, 0));
  h.chunk(1, 1, 1, piece(file, 1));
  h.release();
  EXPECT_EQ(h.state(1).status, UploadStatus::DiskFull);
  EXPECT_FALSE(h.next(1));
  EXPECT_TRUE(h.core.wants_read(1));
  EXPECT_FALSE(h.core.has_upload(42));
  EXPECT_FALSE(h.closed.count(1));
  h.disk_full = false;
  h.open(1, 2, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  upload_all(h, 1, 2, file, {0, 1});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
}

// Every flush_every_bytes written, a Flush job syncs the data file while the upload goes on,
// one at a time; 0 turns it off.
TEST(ResourceCore, a_flush_every_so_many_bytes_written) {
  for (uint64_t every : {uint64_t{2} * kMiB, uint64_t{0}}) {
    ResdConfig cfg;
    cfg.flush_every_bytes = every;
    Harness h(cfg);
    h.connect(1);
    std::string file = pattern(5 * kMiB, 43);
    h.open(1, 1, h.ticket(5, 42, file));
    h.state(1);
    upload_all(h, 1, 1, file, {0, 1, 2, 3, 4});
    EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
    EXPECT_EQ(h.flushed[42], every ? 2 : 0) << every;  // after 2 MiB and after 4 MiB
  }
}

// A smaller file is flushed every eighth of it (at least every 4 MiB), so the sync before
// READY has at most that much left: a 32 MiB upload under the default 64 MiB gets a Flush
// after every 4 MiB, none for the last chunk.
TEST(ResourceCore, a_flush_every_eighth_of_a_smaller_file) {
  Harness h;
  h.connect(1);
  std::string file = pattern(32 * kMiB, 45);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  std::vector<uint64_t> all;
  for (uint64_t i = 0; i < 32; i++) all.push_back(i);
  upload_all(h, 1, 1, file, all);
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  EXPECT_EQ(h.flushed[42], 7);  // after 4, 8, ... 28 MiB
}

// One Flush at a time: one that comes due while another is at the worker is not issued; the
// bytes count toward the next. None for the chunk that completes the file.
TEST(ResourceCore, flushes_go_one_at_a_time) {
  ResdConfig cfg;
  cfg.flush_every_bytes = kMiB;
  Harness h(cfg);
  h.connect(1);
  std::string file = pattern(4 * kMiB, 44);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.hold = true;
  h.chunk(1, 1, 0, piece(file, 0));
  h.chunk(1, 1, 1, piece(file, 1));
  h.release();  // chunk 0's result issues a Flush; chunk 1's comes while it is queued
  EXPECT_EQ(std::count(h.kinds.begin(), h.kinds.end(), JobKind::Flush), 1);
  h.ack(1);
  h.ack(1);
  upload_all(h, 1, 1, file, {2, 3});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  // Chunk 2's; chunk 3 completes the file, and the sync before READY follows it anyway.
  EXPECT_EQ(std::count(h.kinds.begin(), h.kinds.end(), JobKind::Flush), 2);
}

TEST(ResourceCore, failed_write_is_nacked_write_failed_and_can_be_resent) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB, 17);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.fail_writes = true;
  h.chunk(1, 1, 0, file);
  EXPECT_EQ(h.ack(1).nacks.at(0).reason, NackReason::WriteFailed);
  h.fail_writes = false;
  upload_all(h, 1, 1, file, {0});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
}

TEST(ResourceCore, duplicate_of_a_chunk_at_the_worker_is_dropped) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 18);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.hold = true;
  h.chunk(1, 1, 0, piece(file, 0));
  h.chunk(1, 1, 0, piece(file, 0));
  EXPECT_EQ(h.held.size(), 1u);
  h.release();
  EXPECT_EQ(h.writes[42], 1);
  EXPECT_EQ(h.ack(1).cumulative, 1u);
}

TEST(ResourceCore, back_pressure_stops_reading_past_the_bound) {
  ResdConfig cfg;
  cfg.max_queued_bytes = 3 * kMiB;
  Harness h(cfg);
  h.connect(1);
  std::string file = pattern(8 * kMiB, 19);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  h.hold = true;
  for (uint64_t i = 0; i < 3; i++) {
    EXPECT_TRUE(h.core.wants_read(1));
    h.chunk(1, 1, i, piece(file, i));
  }
  EXPECT_FALSE(h.core.wants_read(1));
  h.release();
  EXPECT_TRUE(h.core.wants_read(1));
}

// Lanes and many clients multiply the per-connection bound; the total one still holds, and a
// connection paused by it is not closed as idle.
TEST(ResourceCore, back_pressure_over_all_connections) {
  ResdConfig cfg;
  cfg.max_queued_bytes = 3 * kMiB;
  cfg.max_total_queued_bytes = 4 * kMiB;
  cfg.idle_timeout_ms = 1000;
  Harness h(cfg);
  std::string file = pattern(8 * kMiB, 20);
  for (ConnId c : {1, 2, 3}) {
    h.connect(c);
    h.open(c, 1, h.ticket(5, 42, file));
    h.state(c);
  }
  h.hold = true;
  h.chunk(1, 1, 0, piece(file, 0));
  h.chunk(1, 1, 1, piece(file, 1));
  h.chunk(2, 1, 2, piece(file, 2));
  EXPECT_TRUE(h.core.wants_read(3));
  h.chunk(2, 1, 3, piece(file, 3));
  for (ConnId c : {1, 2, 3}) EXPECT_FALSE(h.core.wants_read(c)) << c;
  h.advance(5000);  // stalled by the server for longer than the idle timeout
  EXPECT_TRUE(h.closed.empty());
  h.release();
  for (ConnId c : {1, 2, 3}) EXPECT_TRUE(h.core.wants_read(c)) << c;
}

TEST(ResourceCore, direct_reads_fill_the_chunk_buffer_without_a_copy) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB, 20);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  std::string frame;
  proto::encode_chunk(frame, 1, 0, sum(file), file);
  // The header and a little of the body through on_bytes; the rest straight into the window,
  // at most 256 KiB per read (the reader sums each piece while it is in the cache), and a
  // read may fill less than it was offered. Below 64 KiB missing, on_bytes again.
  h.core.on_bytes(1, frame.data(), 100, h.now);
  size_t at = 100, reads = 0;
  for (;;) {
    size_t len = 0;
    char* w = h.core.read_window(1, len);
    if (!w) break;
    EXPECT_EQ(len, std::min<size_t>(frame.size() - at, 256 * 1024));
    size_t n = reads % 2 ? len : len / 2;
    std::memcpy(w, frame.data() + at, n);
    h.core.on_read_direct(1, n, h.now);
    at += n;
    reads++;
  }
  EXPECT_GE(reads, 5u);
  EXPECT_LT(frame.size() - at, 64u * 1024);
  h.core.on_bytes(1, frame.data() + at, frame.size() - at, h.now);
  h.run();
  EXPECT_EQ(h.ack(1).cumulative, 1u);
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
}

TEST(ResourceCore, restart_from_blob_claims_exactly_the_persisted_chunks) {
  std::string file = pattern(3 * kMiB, 21);
  std::string blob;
  UploadMeta meta;
  {
    Harness h;
    h.connect(1);
    h.open(1, 1, h.ticket(5, 42, file));
    h.state(1);
    upload_all(h, 1, 1, file, {2, 0});
    blob = h.blobs[42];
    meta.message_id = 42;
    meta.user_id = 5;
    meta.file_size = file.size();
    meta.chunk_size = kMiB;
    meta.file_hash = sha(file);
  }
  Harness h;
  h.core.load_partial(meta, blob, h.now);
  h.run();
  h.connect(1);
  h.open(1, 1, h.ticket(5, 42, file));
  proto::UploadState s = h.state(1);
  ASSERT_EQ(s.held.size(), 2u);
  EXPECT_EQ(s.held[0], (proto::ChunkRange{0, 1}));
  EXPECT_EQ(s.held[1], (proto::ChunkRange{2, 3}));
  // Another user still cannot take it over after the restart.
  h.open(1, 2, h.ticket(6, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
}

TEST(ResourceCore, corrupt_blob_starts_the_upload_over) {
  Harness h;
  std::string file = pattern(2 * kMiB, 22);
  UploadMeta meta;
  meta.message_id = 42;
  meta.user_id = 5;
  meta.file_size = file.size();
  meta.chunk_size = kMiB;
  meta.file_hash = sha(file);
  h.core.load_partial(meta, "FRYL garbage that is not a ledger blob at all, no", h.now);
  std::string line;
  EXPECT_TRUE(h.core.poll_log(line));
  h.connect(1);
  h.open(1, 1, h.ticket(5, 42, file));
  EXPECT_TRUE(h.state(1).held.empty());
}

TEST(ResourceCore, complete_blob_at_start_verifies_and_finalizes_without_a_client) {
  std::string file = pattern(kMiB, 23);
  ferry::resource::ChunkLedger l(file.size(), kMiB, sha(file));
  l.on_chunk(0, file.size(), sum(file), sum(file));
  while (auto a = l.poll_action()) {
    if (a->kind == LedgerAction::Kind::Write) l.on_write_done(0, true);
    if (a->kind == LedgerAction::Kind::Persist) l.on_persisted(a->generation);
  }
  Harness h;
  h.files[42] = file;
  UploadMeta meta{42, 5, file.size(), kMiB, sha(file), kT0};
  h.core.load_partial(meta, l.serialize(), h.now);
  h.run();
  EXPECT_TRUE(h.finalized.count(42));
  EXPECT_TRUE(h.core.is_done(42));
}

TEST(ResourceCore, whole_file_mismatch_reports_corrupt_and_discards) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB + 1, 24);
  std::string other = pattern(kMiB + 1, 25);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  // Chunks that match their own hashes but are not the ticket's file (the source changed).
  h.chunk(1, 1, 0, piece(other, 0));
  h.ack(1);
  h.chunk(1, 1, 1, piece(other, 1));
  h.ack(1);
  EXPECT_EQ(h.done(1).status, UploadStatus::Corrupt);
  EXPECT_TRUE(h.deleted.count(42));
  EXPECT_FALSE(h.core.is_done(42));
}

// Hash later: an unbound ticket (no hash yet) lets the client send at once. Every chunk is
// taken and acked, but nothing is verified until an OPEN with the bound ticket; its hash is
// written to the meta first (Bind), then the whole file is verified and finished.
TEST(ResourceCore, unbound_upload_waits_for_the_bound_ticket_then_verifies) {
  Harness h;
  h.connect(1);
  std::string file = pattern(3 * kMiB + 5, 31);
  h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
  proto::UploadState s = h.state(1);
  ASSERT_EQ(s.status, UploadStatus::Ok);
  ASSERT_EQ(s.total_chunks, 4u);
  upload_all(h, 1, 1, file, {3, 1, 0, 2});
  EXPECT_EQ(h.count(JobKind::Verify), 0u);
  EXPECT_FALSE(h.next(1)) << "no verdict while the hash is unknown";
  EXPECT_TRUE(h.core.has_upload(42));
  // Another unbound OPEN (a resume) changes nothing and still holds everything.
  h.open(1, 2, h.unbound_ticket(5, 42, file.size()));
  EXPECT_EQ(h.state(1).held, (std::vector<proto::ChunkRange>{{0, 4}}));
  EXPECT_EQ(h.count(JobKind::Verify), 0u);
  // The bound ticket: Bind, then Verify, then Finalize and DONE ok.
  h.open(1, 3, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  EXPECT_EQ(h.bound_meta[42], sha(file));
  EXPECT_EQ(h.count(JobKind::Verify), 1u);
  proto::UploadDone d = h.done(1);
  EXPECT_EQ(d.status, UploadStatus::Ok);
  EXPECT_EQ(d.file_hash, sha(file));
  EXPECT_TRUE(h.core.is_done(42));
  // A late OPEN with the old unbound ticket hears the verdict at once.
  h.open(1, 4, h.unbound_ticket(5, 42, file.size()));
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
}

TEST(ResourceCore, bound_before_the_last_chunk_verifies_when_it_lands) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 32);
  h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
  h.state(1);
  upload_all(h, 1, 1, file, {1});
  h.open(1, 2, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).held, (std::vector<proto::ChunkRange>{{1, 2}}));
  EXPECT_EQ(h.count(JobKind::Bind), 1u);
  EXPECT_EQ(h.count(JobKind::Verify), 0u);
  upload_all(h, 1, 2, file, {0});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  EXPECT_TRUE(h.finalized.count(42));
}

// A bound ticket whose hash the bytes do not have ends corrupt; a second, different bound
// ticket, one for another size or for another user is refused and binds nothing.
TEST(ResourceCore, binding_is_checked_and_happens_once) {
  Harness h;
  h.connect(1);
  std::string file = pattern(2 * kMiB, 33);
  std::string other = pattern(2 * kMiB, 34);
  h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
  h.state(1);
  h.open(1, 2, h.ticket(6, 42, other));
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
  h.open(1, 2, h.ticket(5, 42, file + "x"));
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
  EXPECT_EQ(h.count(JobKind::Bind), 0u);
  h.open(1, 2, h.ticket(5, 42, other));  // binds the wrong hash
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  h.open(1, 3, h.ticket(5, 42, file));
  EXPECT_EQ(h.state(1).status, UploadStatus::BadTicket);
  EXPECT_EQ(h.count(JobKind::Bind), 1u);
  upload_all(h, 1, 2, file, {0, 1});
  EXPECT_EQ(h.done(1).status, UploadStatus::Corrupt);
  EXPECT_TRUE(h.deleted.count(42));
}

// The meta write of a bind fails: the upload stays unbound (no verify) and the client's next
// bound OPEN binds it.
TEST(ResourceCore, a_failed_bind_is_retried_by_the_next_bound_open) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB, 35);
  h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
  h.state(1);
  upload_all(h, 1, 1, file, {0});
  h.fail_binds = true;
  h.open(1, 2, h.ticket(5, 42, file));
  h.state(1);
  std::string line;
  EXPECT_TRUE(h.core.poll_log(line));
  EXPECT_EQ(h.count(JobKind::Verify), 0u);
  h.fail_binds = false;
  h.open(1, 3, h.ticket(5, 42, file));
  h.state(1);
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
}

// Bound while its Create is still at the worker: the Bind follows the Create.
TEST(ResourceCore, bound_while_being_created) {
  Harness h;
  h.connect(1);
  std::string file = pattern(kMiB, 36);
  h.hold = true;
  h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
  h.open(1, 2, h.ticket(5, 42, file));
  h.release();
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  EXPECT_EQ(h.state(1).status, UploadStatus::Ok);
  EXPECT_EQ(h.bound_meta[42], sha(file));
  upload_all(h, 1, 2, file, {0});
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
}

// After a restart the meta is the truth: a blob persisted before the bind (no hash in it)
// is kept and the upload is bound, and an unbound meta waits for its bound ticket.
TEST(ResourceCore, restart_keeps_chunks_persisted_before_the_bind) {
  std::string file = pattern(2 * kMiB, 37);
  std::string blob;
  {
    Harness h;
    h.connect(1);
    h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
    h.state(1);
    upload_all(h, 1, 1, file, {0, 1});
    blob = h.blobs[42];
  }
  for (bool bound : {false, true}) {
    SCOPED_TRACE(bound ? "meta bound" : "meta unbound");
    Harness h;
    h.files[42] = file;
    UploadMeta meta{42, 5, file.size(), kMiB, bound ? sha(file) : proto::Sha256{}, kT0};
    h.core.load_partial(meta, blob, h.now);
    h.run();
    EXPECT_EQ(h.finalized.count(42), bound ? 1u : 0u);
    if (bound) continue;
    h.connect(1);
    h.open(1, 1, h.ticket(5, 42, file));
    EXPECT_EQ(h.state(1).held, (std::vector<proto::ChunkRange>{{0, 2}}));
    EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  }
}

TEST(ResourceCore, idle_connection_is_closed) {
  ResdConfig cfg;
  cfg.idle_timeout_ms = 1000;
  Harness h(cfg);
  h.connect(1);
  h.advance(1500);
  EXPECT_EQ(h.error_code(1), "idle_timeout");
}

TEST(ResourceCore, shutdown_tells_clients) {
  Harness h;
  h.connect(1);
  h.core.shutdown(h.now);
  EXPECT_EQ(h.error_code(1), "shutting_down");
  EXPECT_TRUE(h.closed.count(1));
}

// ---- the chat link ----

struct LinkPeer {
  proto::FrameDecoder dec{1u << 20};
  std::vector<std::pair<FrameType, proto::Json>> frames;
  void take(Harness& h) {
    std::string bytes;
    while (h.core.link_poll_send(bytes)) dec.feed(bytes.data(), bytes.size());
    proto::Frame f;
    while (dec.next(f) == proto::DecodeStatus::Ready) {
      frames.emplace_back(f.type, proto::json_parse(f.body));
    }
  }
  static void reply(Harness& h, FrameType t, const std::string& body) {
    std::string f;
    proto::encode_frame(f, t, body);
    h.core.link_on_bytes(f.data(), f.size(), h.now);
    h.run();
  }
};

std::string op_of(const proto::Json& j) {
  const cJSON* op = cJSON_GetObjectItem(j.get(), "op");
  return cJSON_IsString(op) ? op->valuestring : "";
}
uint64_t u64_of(const proto::Json& j, const char* k) {
  const cJSON* v = cJSON_GetObjectItem(j.get(), k);
  return cJSON_IsNumber(v) ? static_cast<uint64_t>(v->valuedouble) : 0;
}

Harness linked_harness(ResdConfig cfg = {}) {
  cfg.link_enabled = true;
  cfg.link.advertise = "127.0.0.1:7421";
  return Harness(std::move(cfg));
}

void link_up(Harness& h, LinkPeer& p) {
  ASSERT_TRUE(h.core.link_connect_due(h.now));
  h.core.link_on_connecting(h.now);
  h.core.link_on_connected(h.now);
  p.take(h);
  ASSERT_EQ(p.frames.back().first, FrameType::Hello);
  std::string challenge(64, 'a');
  LinkPeer::reply(h, FrameType::Hello,
                  R"({"proto":1,"server":"ferry-chatd/0.1.0","challenge":")" + challenge + "\"}");
  p.take(h);
  const auto& auth = p.frames.back().second;
  ASSERT_EQ(op_of(auth), "peer_auth");
  std::string err, mac, adv;
  ASSERT_TRUE(proto::json_get_string(auth.get(), "mac", mac, err));
  ASSERT_TRUE(proto::json_get_string(auth.get(), "advertise", adv, err));
  EXPECT_EQ(mac, ChatLink::peer_mac(kKey, challenge));
  EXPECT_EQ(adv, "127.0.0.1:7421");
  LinkPeer::reply(h, FrameType::Response,
                  R"({"rid":)" + std::to_string(u64_of(auth, "rid")) + R"(,"ok":true})");
  EXPECT_TRUE(h.core.link().ready());
}

TEST(ResourceCoreLink, peer_mac_matches_hmac_of_prefixed_challenge) {
  // HMAC-SHA256(key, "ferry-peer-v1:" + challenge), RFC 4231 style check by recomputation.
  std::string mac = ChatLink::peer_mac("k", "c");
  EXPECT_EQ(mac.size(), 64u);
  EXPECT_NE(mac, ChatLink::peer_mac("k", "d"));
  EXPECT_NE(mac, ChatLink::peer_mac("j", "c"));
}

TEST(ResourceCoreLink, done_goes_to_outbox_and_is_resent_until_answered) {
  Harness h = linked_harness();
  LinkPeer p;
  link_up(h, p);
  h.connect(1);
  std::string file = pattern(kMiB, 30);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  upload_all(h, 1, 1, file, {0});
  h.done(1);
  p.take(h);
  std::vector<const proto::Json*> dones;
  for (auto& [t, j] : p.frames) {
    if (op_of(j) == "upload_done") dones.push_back(&j);
  }
  ASSERT_EQ(dones.size(), 1u);
  EXPECT_EQ(u64_of(*dones[0], "message_id"), 42u);
  EXPECT_EQ(u64_of(*dones[0], "size"), file.size());
  // The link drops before chatd answers: it is sent again after the reconnect.
  h.core.link_on_closed(h.now);
  h.advance(200);
  LinkPeer p2;
  link_up(h, p2);
  p2.take(h);
  uint64_t rid = 0;
  for (auto& [t, j] : p2.frames) {
    if (op_of(j) == "upload_done") rid = u64_of(j, "rid");
  }
  ASSERT_NE(rid, 0u);
  LinkPeer::reply(h, FrameType::Response,
                  R"({"rid":)" + std::to_string(rid) + R"(,"ok":true,"status":"ready"})");
  EXPECT_TRUE(h.unnotified.count(42));
  EXPECT_EQ(h.core.link().outbox_size(), 0u);
}

TEST(ResourceCoreLink, wrong_mac_answer_closes_and_backs_off) {
  Harness h = linked_harness();
  LinkPeer p;
  h.core.link_on_connecting(h.now);
  h.core.link_on_connected(h.now);
  LinkPeer::reply(h, FrameType::Hello,
                  R"({"proto":1,"challenge":")" + std::string(64, 'b') + "\"}");
  p.take(h);
  LinkPeer::reply(h, FrameType::Response,
                  R"({"rid":1,"ok":false,"error":{"code":"auth_failed","message":"no"}})");
  EXPECT_TRUE(h.core.link_poll_close());
  h.core.link_on_closed(h.now);
  EXPECT_FALSE(h.core.link_connect_due(h.now));
  EXPECT_TRUE(h.core.link_connect_due(h.now + 100));
}

TEST(ResourceCoreLink, cancel_push_deletes_the_partial_upload) {
  Harness h = linked_harness();
  LinkPeer p;
  link_up(h, p);
  h.connect(1);
  std::string file = pattern(2 * kMiB, 31);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  LinkPeer::reply(h, FrameType::Push, R"({"event":"cancel","message_id":42})");
  EXPECT_EQ(h.done(1).status, UploadStatus::Cancelled);
  EXPECT_TRUE(h.deleted.count(42));
}

// chatd's bind push for message `id` with `sha256_hex` (not checked: bad ones are tested).
void push_bind(Harness& h, uint64_t id, const std::string& sha256_hex) {
  LinkPeer::reply(h, FrameType::Push,
                  R"({"event":"bind","message_id":)" + std::to_string(id) + R"(,"sha256":")" +
                      sha256_hex + "\"}");
}

// chatd's bind push (after a bind_hash) binds an unbound upload like a bound OPEN would: an
// upload whose chunks are all durable verifies and finishes without the client's help. A
// malformed or unknown one, or one for an upload bound already, changes nothing.
TEST(ResourceCoreLink, bind_push_binds_and_finishes_a_complete_upload) {
  Harness h = linked_harness();
  LinkPeer p;
  link_up(h, p);
  h.connect(1);
  std::string file = pattern(2 * kMiB, 38);
  h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
  h.state(1);
  upload_all(h, 1, 1, file, {0, 1});
  auto bind = [&](uint64_t id, const std::string& sha) { push_bind(h, id, sha); };
  std::string hex = proto::hex_encode(proto::sha256(file));
  bind(42, "zz");
  bind(77, hex);
  EXPECT_EQ(h.count(JobKind::Bind), 0u);
  bind(42, hex);
  EXPECT_EQ(h.bound_meta[42], sha(file));
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  EXPECT_TRUE(h.core.is_done(42));
  bind(42, hex);
  EXPECT_EQ(h.count(JobKind::Bind), 1u);
}

// Regression (a 64 MiB upload through a 40 ms link waited 62 s for READY after its last
// ack): chatd's bind push can overtake the client's first OPEN, which carries the unbound
// ticket. resd remembers it, and the upload starts bound and finishes without another OPEN.
// A remembered bind for another message, or one older than early_bind_ttl_ms, binds nothing.
TEST(ResourceCoreLink, a_bind_push_before_the_open_binds_the_new_upload) {
  ResdConfig cfg;
  cfg.early_bind_ttl_ms = 1000;
  Harness h = linked_harness(cfg);
  LinkPeer p;
  link_up(h, p);
  auto bind = [&](uint64_t id, const std::string& content) {
    push_bind(h, id, proto::hex_encode(proto::sha256(content)));
  };
  std::string file = pattern(2 * kMiB, 39);
  bind(42, file);  // before any OPEN of message 42
  bind(43, file);  // never OPENed here
  h.connect(1);
  h.open(1, 1, h.unbound_ticket(5, 42, file.size()));
  h.state(1);
  upload_all(h, 1, 1, file, {0, 1});
  EXPECT_EQ(h.count(JobKind::Bind), 0u) << "bound from its creation, no separate bind";
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  EXPECT_TRUE(h.core.is_done(42));

  // Too old: the upload stays unbound until a bound ticket or a fresh push comes.
  std::string other = pattern(2 * kMiB, 40);
  bind(44, other);
  h.advance(1500);
  h.open(1, 2, h.unbound_ticket(5, 44, other.size()));
  h.state(1);
  upload_all(h, 1, 2, other, {0, 1});
  EXPECT_FALSE(h.core.is_done(44));
  bind(44, other);
  EXPECT_EQ(h.count(JobKind::Bind), 1u);
  EXPECT_EQ(h.done(1).status, UploadStatus::Ok);
  EXPECT_TRUE(h.core.is_done(44));
}

TEST(ResourceCoreLink, progress_is_throttled_per_upload) {
  ResdConfig cfg;
  cfg.progress_interval_ms = 250;
  Harness h = linked_harness(cfg);
  LinkPeer p;
  link_up(h, p);
  h.connect(1);
  std::string file = pattern(4 * kMiB, 32);
  h.open(1, 1, h.ticket(5, 42, file));
  h.state(1);
  auto progress_count = [&] {
    p.take(h);
    int n = 0;
    for (auto& [t, j] : p.frames) n += op_of(j) == "upload_progress";
    return n;
  };
  upload_all(h, 1, 1, file, {0, 1});
  EXPECT_EQ(progress_count(), 1);  // the second ack came within 250 ms
  h.advance(260);
  EXPECT_EQ(progress_count(), 2);  // the throttled value goes out when the interval is up
  const auto& last = p.frames.back().second;
  EXPECT_EQ(u64_of(last, "done"), 2 * kMiB);
  EXPECT_EQ(u64_of(last, "total"), file.size());
}

TEST(ResourceCoreLink, outbox_loaded_at_start_is_sent_when_linked) {
  Harness h = linked_harness();
  h.core.load_outbox(77, 123, sha("x"), h.now);
  LinkPeer p;
  link_up(h, p);
  p.take(h);
  bool seen = false;
  for (auto& [t, j] : p.frames) seen |= op_of(j) == "upload_done" && u64_of(j, "message_id") == 77;
  EXPECT_TRUE(seen);
}

// The reader places every CHUNK payload on a kPayloadAlign boundary (what lets the file
// workers write it with O_DIRECT) and sums it as it arrives, whether the bytes come through
// feed() in odd pieces or straight into direct_window(); other frames' bodies are exact and
// unaligned-safe.
TEST(FrameReader, chunk_payloads_start_aligned_however_the_bytes_arrive) {
  std::string payload = pattern(64 * 1024 + 4096, 7);
  std::string frame;
  proto::encode_chunk(frame, 3, 9, proto::chunk_sum(payload.data(), payload.size()), payload);
  proto::UploadOpen open{5, "ticket-bytes"};
  proto::encode_upload_open(frame, open);
  for (size_t piece : {size_t(1), size_t(7), size_t(4096), frame.size()}) {
    for (bool direct : {false, true}) {
      FrameReader r(kMaxFrameBody);
      std::vector<OwnedBody> bodies;
      std::vector<FrameType> types;
      std::vector<std::optional<proto::ChunkSum>> sums;
      size_t at = 0;
      while (at < frame.size()) {
        FrameReader::Status st = FrameReader::Status::NeedMore;
        size_t room = 0;
        char* window = direct ? r.direct_window(1, room) : nullptr;
        if (window) {
          size_t n = std::min({room, piece, frame.size() - at});
          std::memcpy(window, frame.data() + at, n);
          at += n;
          st = r.commit_direct(n);
        } else {
          at += r.feed(frame.data() + at, std::min(piece, frame.size() - at), st);
        }
        ASSERT_NE(st, FrameReader::Status::TooLarge);
        ASSERT_NE(st, FrameReader::Status::BadType);
        if (st == FrameReader::Status::Ready) {
          types.push_back(r.type());
          bodies.push_back(r.take_body());
          sums.push_back(r.payload_sum());
        }
      }
      ASSERT_EQ(bodies.size(), 2u) << piece << " " << direct;
      EXPECT_EQ(types[0], FrameType::Chunk);
      proto::Chunk ch;
      std::string err;
      ASSERT_TRUE(proto::decode_chunk({bodies[0].data, bodies[0].size}, ch, err)) << err;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(ch.payload.data()) % kPayloadAlign, 0u);
      EXPECT_EQ(ch.payload, payload);
      EXPECT_EQ(ch.index, 9u);
      // The payload was summed as it arrived, to the same value the sender claimed.
      ASSERT_TRUE(sums[0].has_value());
      EXPECT_EQ(*sums[0], proto::chunk_sum(payload.data(), payload.size()));
      EXPECT_FALSE(sums[1].has_value());  // not a CHUNK
      proto::UploadOpen got;
      ASSERT_TRUE(proto::decode_upload_open({bodies[1].data, bodies[1].size}, got, err)) << err;
      EXPECT_EQ(got.ticket, "ticket-bytes");
    }
  }
}

}  // namespace
