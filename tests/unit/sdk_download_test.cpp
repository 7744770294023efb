// Proves the SDK's download logic without sockets or files:
//  - download_plan: where a fetch starts given the partial file (Range/If-Range, verify at
//    once, truncate an oversized partial) and what each HTTP answer means (RFC 9110 ranges,
//    200 instead of 206, 416, 401/403/404/5xx), Content-Range parsing, the hash decision;
//  - DownloadManager inside ClientCore, with the test playing the chat server (real frames)
//    and the adapter (fetch/verify/finalize jobs): the happy path, not_ready, a cut transfer
//    resumed after backoff from a non-zero offset, 403 -> fresh URL (and giving up), a hash
//    mismatch deleting the partial, pause/resume/cancel, an app restart from the store, a
//    lost connection while asking, ferry_download_url's answer and its offline timeout,
//    progress throttling;
//  - the SQLite store's downloads table, including the migration from schema version 2;
//  - the adapter's DownloadWriter (sdk/uv/download_writer.h) on a real file: bytes in order
//    at the right offset, the SHA-256 of everything from byte 0, never more than its blocks
//    held in memory, a write error reported rather than lost.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proto/frame.h"
#include "proto/json.h"
#include "sdk/core/client_core.h"
#include "sdk/core/download_plan.h"
#include "sdk/include/ferry.h"
#include "proto/hex.h"
#include "sdk/state/sqlite_store.h"
#include "sdk/uv/download_writer.h"
#include "tests/support/process.h"
#include "tests/unit/sdk_fake_store.h"

namespace ferry::sdk {
namespace {

using proto::FrameType;
using A = ResponsePlan::Action;
const std::string kSha(64, 'b');
constexpr uint64_t kSize = 1000;

// --- download_plan -------------------------------------------------------------------------------

TEST(DownloadPlan, resume_from_the_partial_file) {
  ResumePlan p = plan_resume(0, kSize, kSha);
  EXPECT_EQ(p.action, ResumePlan::Action::Fetch);
  EXPECT_EQ(p.offset, 0u);
  EXPECT_EQ(p.range, "");
  EXPECT_EQ(p.if_range, "");

  p = plan_resume(400, kSize, kSha);
  EXPECT_EQ(p.action, ResumePlan::Action::Fetch);
  EXPECT_EQ(p.offset, 400u);
  EXPECT_EQ(p.range, "bytes=400-");
  EXPECT_EQ(p.if_range, "\"" + kSha + "\"");

  p = plan_resume(kSize, kSize, kSha);
  EXPECT_EQ(p.action, ResumePlan::Action::Verify);
  EXPECT_EQ(p.offset, kSize);

  EXPECT_EQ(plan_resume(kSize + 1, kSize, kSha).action, ResumePlan::Action::Truncate);
  EXPECT_EQ(plan_resume(0, 0, kSha).action, ResumePlan::Action::Verify);  // empty file

  // Hash not known yet: a Range without If-Range.
  p = plan_resume(10, 0, "");
  EXPECT_EQ(p.action, ResumePlan::Action::Fetch);
  EXPECT_EQ(p.range, "bytes=10-");
  EXPECT_EQ(p.if_range, "");
}

TEST(DownloadPlan, content_range) {
  uint64_t a = 0, b = 0, n = 0;
  ASSERT_TRUE(parse_content_range("bytes 400-999/1000", a, b, n));
  EXPECT_EQ(a, 400u);
  EXPECT_EQ(b, 999u);
  EXPECT_EQ(n, 1000u);
  ASSERT_TRUE(parse_content_range(" bytes 0-0/*\r\n", a, b, n));
  EXPECT_EQ(n, 0u);
  EXPECT_FALSE(parse_content_range("bytes */1000", a, b, n));
  EXPECT_FALSE(parse_content_range("bytes 5-4/1000", a, b, n));
  EXPECT_FALSE(parse_content_range("bytes 0-1000/1000", a, b, n));
  EXPECT_FALSE(parse_content_range("items 0-1/2", a, b, n));
  EXPECT_FALSE(parse_content_range("bytes -1-2/3", a, b, n));
  EXPECT_FALSE(parse_content_range("bytes 0-99999999999999999999/3", a, b, n));
}

TEST(DownloadPlan, http_answers) {
  // Whole file asked and given.
  ResponsePlan p = plan_response(200, "", 0, 0, kSize);
  EXPECT_EQ(p.action, A::Append);
  EXPECT_EQ(p.offset, 0u);
  // Range asked, whole file given (If-Range did not match): start over from 0.
  EXPECT_EQ(plan_response(200, "", 400, 400, kSize).action, A::Restart);
  // The asked range.
  p = plan_response(206, "bytes 400-999/1000", 400, 400, kSize);
  EXPECT_EQ(p.action, A::Append);
  EXPECT_EQ(p.offset, 400u);
  // Another range, another size, or no Content-Range: never appended.
  EXPECT_EQ(plan_response(206, "bytes 0-999/1000", 400, 400, kSize).action, A::StartOver);
  EXPECT_EQ(plan_response(206, "bytes 400-1998/1999", 400, 400, kSize).action, A::StartOver);
  EXPECT_EQ(plan_response(206, "", 400, 400, kSize).action, A::StartOver);
  // 416: complete already, or a partial that does not fit.
  EXPECT_EQ(plan_response(416, "bytes */1000", kSize, kSize, kSize).action, A::Complete);
  EXPECT_EQ(plan_response(416, "bytes */900", 950, 950, kSize).action, A::StartOver);
  // Ticket trouble, missing file, server trouble, our fault.
  EXPECT_EQ(plan_response(401, "", 0, 0, kSize).action, A::RefreshUrl);
  EXPECT_EQ(plan_response(403, "", 0, 0, kSize).action, A::RefreshUrl);
  p = plan_response(404, "", 0, 0, kSize);
  EXPECT_EQ(p.action, A::Fail);
  EXPECT_EQ(p.err, FERRY_ENOTFOUND);
  p = plan_response(503, "", 0, 0, kSize);
  EXPECT_EQ(p.action, A::Retry);
  EXPECT_EQ(p.err, FERRY_EHTTP);
  EXPECT_EQ(plan_response(500, "", 0, 0, kSize).action, A::Retry);
  EXPECT_EQ(plan_response(429, "", 0, 0, kSize).action, A::Retry);
  EXPECT_EQ(plan_response(400, "", 0, 0, kSize).action, A::Fail);
  EXPECT_EQ(plan_response(405, "", 0, 0, kSize).action, A::Fail);
  EXPECT_EQ(plan_response(302, "", 0, 0, kSize).action, A::Fail);
}

TEST(DownloadPlan, verify_outcome) {
  std::string upper = kSha;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(plan_verify(kSha, kSha), VerifyOutcome::Commit);
  EXPECT_EQ(plan_verify(upper, kSha), VerifyOutcome::Commit);
  EXPECT_EQ(plan_verify(std::string(64, 'c'), kSha), VerifyOutcome::Mismatch);
  EXPECT_EQ(plan_verify("", kSha), VerifyOutcome::Mismatch);
  EXPECT_EQ(plan_verify(kSha.substr(1), kSha.substr(1)), VerifyOutcome::Mismatch);
}

// --- DownloadManager inside ClientCore -----------------------------------------------------------

struct Req {
  std::string op;
  uint64_t rid = 0;
  proto::Json j;
  uint64_t num(const char* k) const {
    const cJSON* f = cJSON_GetObjectItemCaseSensitive(j.get(), k);
    return cJSON_IsNumber(f) ? static_cast<uint64_t>(f->valuedouble) : UINT64_MAX;
  }
};

class Downloads : public ::testing::Test {
 protected:
  Downloads() { store.session_ = Session{"bob", 2, "tok"}; }

  void make_core(bool connect = true) {
    CoreConfig cfg;
    cfg.receive = false;
    core = std::make_unique<ClientCore>(cfg, store, [] { return 0x80000000u; });
    core->start(now);
    if (connect) online();
  }
  void online() {
    ASSERT_TRUE(core->poll_connect());
    core->on_connected(now);
    std::vector<Req> auth = chat_sent();  // the auth rides with the HELLO
    feed(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
    for (Req& r : chat_sent()) auth.push_back(std::move(r));
    ASSERT_EQ(auth.size(), 1u);
    respond(auth[0].rid, R"("user_id":2,"user":"bob")");
    drain();
  }
  DownloadManager& m() { return core->downloads(); }

  std::vector<Req> chat_sent() {
    std::string bytes = core->poll_send();
    dec.feed(bytes.data(), bytes.size());
    std::vector<Req> out;
    proto::Frame f;
    while (dec.next(f) == proto::DecodeStatus::Ready) {
      if (f.type != FrameType::Request) continue;
      Req r;
      r.j = proto::json_parse(f.body);
      const cJSON* op = cJSON_GetObjectItemCaseSensitive(r.j.get(), "op");
      r.op = cJSON_IsString(op) ? op->valuestring : "";
      r.rid = r.num("rid");
      out.push_back(std::move(r));
    }
    return out;
  }
  Req url_request(uint64_t message_id) {
    std::vector<Req> r = chat_sent();
    EXPECT_EQ(r.size(), 1u);
    if (r.empty()) return {};
    EXPECT_EQ(r[0].op, "download_url");
    EXPECT_EQ(r[0].num("message_id"), message_id);
    return std::move(r[0]);
  }
  void feed(FrameType t, const std::string& body) {
    std::string bytes;
    proto::encode_frame(bytes, t, body);
    core->on_bytes(bytes.data(), bytes.size(), now);
  }
  void respond(uint64_t rid, const std::string& fields) {
    feed(FrameType::Response, R"({"rid":)" + std::to_string(rid) + R"(,"ok":true,)" + fields + "}");
  }
  void respond_error(uint64_t rid, const std::string& code, const std::string& msg = "") {
    feed(FrameType::Response, R"({"rid":)" + std::to_string(rid) +
                                  R"(,"ok":false,"error":{"code":")" + code + R"(","message":")" +
                                  msg + R"("}})");
  }
  void grant(uint64_t rid, uint64_t id, const std::string& ticket = "ferry1.t") {
    respond(rid, R"("download":{"url":"http://127.0.0.1:7422/m/)" + std::to_string(id) +
                     "?t=" + ticket + R"(","ticket":")" + ticket +
                     R"(","expires_ms":1795000000000,"size":)" + std::to_string(kSize) +
                     R"(,"sha256":")" + kSha + R"(","name":"holiday.jpg","mime":"image/jpeg"})");
  }

  void submit(uint64_t id, const std::string& dest = "/dl/holiday.jpg") {
    PendingDownload d;
    d.message_id = id;
    d.dest = dest;
    m().store().download_put(d);
    core->submit_download(d, now);
  }
  FetchJob fetch() {
    FetchJob j;
    EXPECT_TRUE(m().poll_fetch(j));
    return j;
  }
  void drain() {
    Event e;
    while (core->poll_event(e)) events.push_back(std::move(e));
  }
  // The download status events drained so far, as states.
  std::vector<int> states() {
    drain();
    std::vector<int> out;
    for (const Event& e : events) {
      if (e.type == FERRY_EVENT_DOWNLOAD_STATUS) out.push_back(e.download_state);
    }
    return out;
  }
  const Event* last(int type) {
    drain();
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->type == type) return &*it;
    }
    return nullptr;
  }
  bool stored(uint64_t id) {
    PendingDownload d;
    return m().store().download_get(id, d);
  }
  // Runs the verify and commit jobs with the given hash; true when a commit was asked.
  bool verify_and_commit(const std::string& sha) {
    VerifyJob v;
    if (!m().poll_verify(v)) return false;
    m().on_verified(v.job, true, sha, "", now);
    FinalizeJob f;
    if (!m().poll_finalize(f)) return false;
    if (!f.commit) return false;
    m().on_finalized(f.job, true, "", now);
    return true;
  }

  FakeStore store;
  std::unique_ptr<ClientCore> core;
  proto::FrameDecoder dec{1u << 24};
  std::vector<Event> events;
  uint64_t now = 1000;
};

TEST_F(Downloads, whole_file_fetched_verified_and_committed) {
  make_core();
  submit(42);
  Req r = url_request(42);
  EXPECT_EQ(r.num("ttl_s"), UINT64_MAX);  // the server's default
  grant(r.rid, 42);
  FetchJob j = fetch();
  EXPECT_EQ(j.message_id, 42u);
  EXPECT_EQ(j.url, "http://127.0.0.1:7422/m/42?t=ferry1.t");
  EXPECT_EQ(j.partial, "/dl/holiday.jpg.part");
  EXPECT_EQ(j.size, kSize);
  EXPECT_EQ(j.sha256, kSha);
  // The grant's metadata is kept for a restart.
  PendingDownload rec;
  ASSERT_TRUE(m().store().download_get(42, rec));
  EXPECT_EQ(rec.sha256, kSha);
  EXPECT_EQ(rec.name, "holiday.jpg");

  m().on_fetch_started(j.job, 0, now);
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_FETCHING);
  EXPECT_EQ(st->done, 0u);
  EXPECT_EQ(st->path, "/dl/holiday.jpg");
  m().on_fetch_progress(j.job, 500, now + 200);
  m().on_fetch_progress(j.job, kSize, now + 400);
  m().on_fetch_done(j.job, {FetchOutcome::Kind::Complete, 0, "", kSha}, now + 400);
  VerifyJob v;
  ASSERT_TRUE(m().poll_verify(v));
  EXPECT_EQ(v.partial, "/dl/holiday.jpg.part");
  EXPECT_EQ(v.sha256, kSha);  // hashed while writing: no re-read
  m().on_verified(v.job, true, kSha, "", now);
  FinalizeJob f;
  ASSERT_TRUE(m().poll_finalize(f));
  EXPECT_TRUE(f.commit);
  EXPECT_EQ(f.partial, "/dl/holiday.jpg.part");
  EXPECT_EQ(f.dest, "/dl/holiday.jpg");
  m().on_finalized(f.job, true, "", now);
  EXPECT_EQ(states(), (std::vector<int>{FERRY_DOWNLOAD_FETCHING, FERRY_DOWNLOAD_VERIFYING,
                                        FERRY_DOWNLOAD_DONE}));
  const Event* done = last(FERRY_EVENT_DOWNLOAD_STATUS);
  EXPECT_EQ(done->status, FERRY_OK);
  EXPECT_EQ(done->done, kSize);
  EXPECT_EQ(done->total, kSize);
  std::vector<uint64_t> progress;
  for (const Event& e : events) {
    if (e.type == FERRY_EVENT_DOWNLOAD_PROGRESS) progress.push_back(e.done);
  }
  EXPECT_EQ(progress, (std::vector<uint64_t>{0, 500, kSize}));
  EXPECT_FALSE(stored(42));
  EXPECT_FALSE(m().pending(42));
  EXPECT_FALSE(core->download_pause(42, now));
}

TEST_F(Downloads, still_uploading_fails_not_ready_without_fetching) {
  make_core();
  submit(7);
  Req r = url_request(7);
  respond_error(r.rid, "not_ready", "message 7 is uploading (37%)");
  FetchJob j;
  EXPECT_FALSE(m().poll_fetch(j));
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_FAILED);
  EXPECT_EQ(st->status, FERRY_ENOTREADY);
  EXPECT_EQ(st->detail, "message 7 is uploading (37%)");
  FinalizeJob f;  // any stale partial goes
  ASSERT_TRUE(m().poll_finalize(f));
  EXPECT_FALSE(f.commit);
  EXPECT_EQ(f.partial, "/dl/holiday.jpg.part");
  EXPECT_FALSE(stored(7));
  // Unknown message: not found.
  submit(8);
  respond_error(url_request(8).rid, "unknown_message");
  EXPECT_EQ(last(FERRY_EVENT_DOWNLOAD_STATUS)->status, FERRY_ENOTFOUND);
}

TEST_F(Downloads, cut_transfer_resumes_after_backoff_from_the_bytes_on_disk) {
  make_core();
  submit(42);
  grant(url_request(42).rid, 42);
  FetchJob j = fetch();
  m().on_fetch_started(j.job, 0, now);
  m().on_fetch_progress(j.job, 300, now);
  m().on_fetch_done(j.job, {FetchOutcome::Kind::Retry, FERRY_EHTTP, "connection reset", ""}, now);
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_RETRYING);
  EXPECT_EQ(st->status, FERRY_EHTTP);
  EXPECT_EQ(st->done, 300u);
  FetchJob none;
  EXPECT_FALSE(m().poll_fetch(none));  // not before the backoff
  std::optional<uint64_t> t = core->poll_timeout();
  ASSERT_TRUE(t);
  now = *t;
  core->handle_timeout(now);
  EXPECT_TRUE(chat_sent().empty());  // the URL is still good: no new download_url
  FetchJob again = fetch();
  EXPECT_NE(again.job, j.job);
  EXPECT_EQ(again.url, j.url);
  m().on_fetch_started(again.job, 300, now);  // the adapter found 300 bytes on disk
  st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_FETCHING);
  EXPECT_EQ(st->done, 300u);
  // A result for the old job is ignored.
  m().on_fetch_done(j.job, {FetchOutcome::Kind::Fail, FERRY_EIO, "stale", ""}, now);
  EXPECT_TRUE(m().pending(42));
  // Nothing at all on the next attempt (connection refused): ask for a fresh URL first, the
  // resource server may be back at another address.
  m().on_fetch_done(again.job, {FetchOutcome::Kind::Retry, FERRY_EHTTP, "refused", ""}, now);
  now = *core->poll_timeout();
  core->handle_timeout(now);
  grant(url_request(42).rid, 42, "moved");
  again = fetch();
  EXPECT_EQ(again.url, "http://127.0.0.1:7422/m/42?t=moved");
  m().on_fetch_started(again.job, 300, now);
  m().on_fetch_done(again.job, {FetchOutcome::Kind::Complete, 0, "", ""}, now);
  VerifyJob v;
  ASSERT_TRUE(m().poll_verify(v));
  EXPECT_EQ(v.sha256, "");  // resumed: the verifier hashes the file from disk
  m().on_verified(v.job, true, kSha, "", now);
  FinalizeJob f;
  ASSERT_TRUE(m().poll_finalize(f));
  m().on_finalized(f.job, true, "", now);
  EXPECT_EQ(last(FERRY_EVENT_DOWNLOAD_STATUS)->download_state, FERRY_DOWNLOAD_DONE);
}

TEST_F(Downloads, refused_ticket_asks_for_a_fresh_url_then_gives_up) {
  make_core();
  submit(42);
  grant(url_request(42).rid, 42, "old");
  FetchJob j = fetch();
  m().on_fetch_started(j.job, 0, now);
  m().on_fetch_done(j.job, {FetchOutcome::Kind::RefreshUrl, FERRY_EHTTP, "HTTP 403", ""}, now);
  core->pump_downloads(now);
  grant(url_request(42).rid, 42, "new");
  j = fetch();
  EXPECT_EQ(j.url, "http://127.0.0.1:7422/m/42?t=new");
  // Refused every time: give up after max_url_refresh fresh URLs.
  for (uint32_t i = 0; i < DownloadManagerConfig{}.max_url_refresh; i++) {
    m().on_fetch_started(j.job, 0, now);
    m().on_fetch_done(j.job, {FetchOutcome::Kind::RefreshUrl, FERRY_EHTTP, "HTTP 403", ""}, now);
    if (i + 1 == DownloadManagerConfig{}.max_url_refresh) break;
    core->pump_downloads(now);
    grant(url_request(42).rid, 42);
    j = fetch();
  }
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_FAILED);
  EXPECT_EQ(st->status, FERRY_EHTTP);
  EXPECT_FALSE(stored(42));
}

TEST_F(Downloads, hash_mismatch_fails_and_deletes_the_partial) {
  make_core();
  submit(42);
  grant(url_request(42).rid, 42);
  FetchJob j = fetch();
  m().on_fetch_started(j.job, 0, now);
  std::string wrong(64, 'c');
  m().on_fetch_done(j.job, {FetchOutcome::Kind::Complete, 0, "", wrong}, now);
  VerifyJob v;
  ASSERT_TRUE(m().poll_verify(v));
  m().on_verified(v.job, true, wrong, "", now);
  FinalizeJob f;
  ASSERT_TRUE(m().poll_finalize(f));
  EXPECT_FALSE(f.commit);
  EXPECT_EQ(f.partial, "/dl/holiday.jpg.part");
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_FAILED);
  EXPECT_EQ(st->status, FERRY_EHASHMISMATCH);
  EXPECT_FALSE(stored(42));
}

TEST_F(Downloads, pause_aborts_resume_refetches_cancel_deletes) {
  make_core();
  submit(42);
  grant(url_request(42).rid, 42);
  FetchJob j = fetch();
  m().on_fetch_started(j.job, 0, now);
  m().on_fetch_progress(j.job, 400, now);
  ASSERT_TRUE(core->download_pause(42, now));
  uint64_t aborted = 0;
  ASSERT_TRUE(m().poll_abort(aborted));
  EXPECT_EQ(aborted, j.job);
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_PAUSED);
  EXPECT_EQ(st->done, 400u);
  PendingDownload rec;
  ASSERT_TRUE(m().store().download_get(42, rec));
  EXPECT_TRUE(rec.paused);  // durable
  FetchJob none;
  EXPECT_FALSE(m().poll_fetch(none));
  core->handle_timeout(now + 60000);
  EXPECT_FALSE(m().poll_fetch(none));

  ASSERT_TRUE(core->download_resume(42, now));
  ASSERT_TRUE(m().store().download_get(42, rec));
  EXPECT_FALSE(rec.paused);
  FetchJob again = fetch();  // the URL in hand is used again
  m().on_fetch_started(again.job, 400, now);

  ASSERT_TRUE(core->download_cancel(42, now));
  ASSERT_TRUE(m().poll_abort(aborted));
  EXPECT_EQ(aborted, again.job);
  FinalizeJob f;
  ASSERT_TRUE(m().poll_finalize(f));
  EXPECT_FALSE(f.commit);
  EXPECT_EQ(states().back(), FERRY_DOWNLOAD_CANCELLED);
  EXPECT_FALSE(stored(42));
  EXPECT_FALSE(core->download_cancel(42, now));
}

TEST_F(Downloads, restart_continues_pending_downloads_once_online) {
  make_core();
  submit(42);
  grant(url_request(42).rid, 42);
  FetchJob j = fetch();
  m().on_fetch_started(j.job, 0, now);
  m().on_fetch_progress(j.job, 600, now);
  // The app dies here. A new core on the same store (the fake store keeps no downloads, so
  // carry the manager's table over like a state directory would).
  std::vector<PendingDownload> kept = m().store().downloads();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].sha256, kSha);
  core.reset();
  dec = proto::FrameDecoder(1u << 24);
  make_core(false);
  for (const PendingDownload& d : kept) {
    m().store().download_put(d);
    core->submit_download(d, now);  // as load() does with a real store
  }
  EXPECT_TRUE(chat_sent().empty());  // offline: nothing asked yet
  online();
  grant(url_request(42).rid, 42);
  FetchJob again = fetch();
  EXPECT_EQ(again.sha256, kSha);
  m().on_fetch_started(again.job, 600, now);
  EXPECT_EQ(last(FERRY_EVENT_DOWNLOAD_STATUS)->done, 600u);
}

TEST_F(Downloads, finished_by_another_client_is_dropped_not_fetched_again) {
  make_core();
  submit(42);
  Req r = url_request(42);
  m().store().download_remove(42);  // another process on the state directory finished it
  grant(r.rid, 42);
  FetchJob none;
  EXPECT_FALSE(m().poll_fetch(none));
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_CANCELLED);
  EXPECT_EQ(st->status, FERRY_ENOTFOUND);
  FinalizeJob f;
  EXPECT_FALSE(m().poll_finalize(f));  // its files are the other client's business
  EXPECT_FALSE(m().pending(42));
}

TEST_F(Downloads, connection_lost_while_asking_asks_again) {
  make_core();
  submit(42);
  url_request(42);
  core->on_disconnected(FERRY_ENOTCONN, "reset", now);
  now = *core->poll_timeout();
  core->handle_timeout(now);
  dec = proto::FrameDecoder(1u << 24);
  online();
  grant(url_request(42).rid, 42);
  fetch();
}

TEST_F(Downloads, no_resource_server_waits_and_asks_again) {
  make_core();
  submit(42);
  respond_error(url_request(42).rid, "no_resource_server");
  EXPECT_EQ(last(FERRY_EVENT_DOWNLOAD_STATUS)->download_state, FERRY_DOWNLOAD_RETRYING);
  EXPECT_EQ(last(FERRY_EVENT_DOWNLOAD_STATUS)->status, FERRY_ENORESOURCE);
  EXPECT_TRUE(chat_sent().empty());
  now = *core->poll_timeout();
  core->handle_timeout(now);
  grant(url_request(42).rid, 42);
  fetch();
}

TEST_F(Downloads, url_request_answers_with_an_event) {
  make_core();
  core->request_download_url(77, 42, 60, now);
  Req r = url_request(42);
  EXPECT_EQ(r.num("ttl_s"), 60u);
  grant(r.rid, 42, "abc");
  const Event* e = last(FERRY_EVENT_DOWNLOAD_URL);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->request_id, 77u);
  EXPECT_EQ(e->status, FERRY_OK);
  EXPECT_EQ(e->message.id, 42u);
  EXPECT_EQ(e->url.url, "http://127.0.0.1:7422/m/42?t=abc");
  EXPECT_EQ(e->url.ticket, "abc");
  EXPECT_EQ(e->url.size, kSize);
  EXPECT_EQ(e->url.sha256, kSha);
  EXPECT_EQ(e->url.name, "holiday.jpg");
  EXPECT_EQ(e->url.mime, "image/jpeg");
  EXPECT_EQ(e->url.expires_ms, 1795000000000);
  FetchJob none;
  EXPECT_FALSE(m().poll_fetch(none));  // a URL request downloads nothing

  core->request_download_url(78, 43, 0, now);
  respond_error(url_request(43).rid, "not_ready", "message 43 is cancelled");
  e = last(FERRY_EVENT_DOWNLOAD_URL);
  EXPECT_EQ(e->request_id, 78u);
  EXPECT_EQ(e->status, FERRY_ENOTREADY);
  EXPECT_EQ(e->detail, "message 43 is cancelled");
}

TEST_F(Downloads, url_request_offline_times_out) {
  make_core(false);
  core->on_connect_failed(FERRY_ECONNREFUSED, "refused", now);
  core->request_download_url(5, 42, 0, now);
  now += DownloadManagerConfig{}.url_wait_ms;
  core->handle_timeout(now);
  const Event* e = last(FERRY_EVENT_DOWNLOAD_URL);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->request_id, 5u);
  EXPECT_EQ(e->status, FERRY_ENOTCONN);
}

TEST_F(Downloads, progress_at_most_every_100ms_or_1_percent) {
  make_core();
  submit(42);
  grant(url_request(42).rid, 42);
  FetchJob j = fetch();
  m().on_fetch_started(j.job, 0, now);
  // 1 byte at a time within one millisecond: 1% of 1000 bytes is 10 bytes.
  for (uint64_t have = 1; have <= 100; have++) m().on_fetch_progress(j.job, have, now);
  size_t n = 0;
  drain();
  for (const Event& e : events) n += e.type == FERRY_EVENT_DOWNLOAD_PROGRESS;
  EXPECT_EQ(n, 11u);                             // the start, then every 10 bytes
  m().on_fetch_progress(j.job, 101, now + 100);  // the interval passed
  drain();
  EXPECT_EQ(events.back().type, FERRY_EVENT_DOWNLOAD_PROGRESS);
  EXPECT_EQ(events.back().done, 101u);
}

TEST_F(Downloads, logout_fails_every_download) {
  make_core();
  submit(42);
  grant(url_request(42).rid, 42);
  FetchJob j = fetch();
  m().on_fetch_started(j.job, 0, now);
  core->logout(now);
  uint64_t aborted = 0;
  EXPECT_TRUE(m().poll_abort(aborted));
  const Event* st = last(FERRY_EVENT_DOWNLOAD_STATUS);
  EXPECT_EQ(st->download_state, FERRY_DOWNLOAD_FAILED);
  EXPECT_EQ(st->status, FERRY_ECANCELED);
}

// --- SQLite: the downloads table -----------------------------------------------------------------

TEST(DownloadStoreSqlite, rows_survive_reopen_and_migration_from_v2) {
  ferry::test::TempDir dir;
  std::string err;
  {
    auto s = SqliteStateStore::open(dir.path(), err);
    ASSERT_TRUE(s) << err;
    PendingDownload a{42, "/dl/a.bin", 0, "", "", "", false, 5};
    PendingDownload b{7, "/dl/b.bin", 10, kSha, "b.bin", "x/y", true, 6};
    ASSERT_TRUE(s->download_put(a));
    ASSERT_TRUE(s->download_put(b));
    a.size = kSize;
    a.sha256 = kSha;
    ASSERT_TRUE(s->download_put(a));  // update keeps the order
  }
  {
    auto s = SqliteStateStore::open(dir.path(), err);
    ASSERT_TRUE(s) << err;
    std::vector<PendingDownload> all = s->downloads();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].message_id, 42u);
    EXPECT_EQ(all[0].size, kSize);
    EXPECT_EQ(all[0].sha256, kSha);
    EXPECT_EQ(all[1].message_id, 7u);
    EXPECT_TRUE(all[1].paused);
    EXPECT_EQ(all[1].name, "b.bin");
    ASSERT_TRUE(s->download_remove(42));
    PendingDownload got;
    EXPECT_FALSE(s->download_get(42, got));
    ASSERT_TRUE(s->download_get(7, got));
    EXPECT_EQ(got.dest, "/dl/b.bin");
    ASSERT_TRUE(s->reset(Session{}));  // another user: downloads forgotten
    EXPECT_TRUE(s->downloads().empty());
  }
  // A version-2 file (before downloads) is migrated in place.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() + "/ferry-state.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "DROP TABLE downloads; PRAGMA user_version = 2;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto s = SqliteStateStore::open(dir.path(), err);
  ASSERT_TRUE(s) << err;
  EXPECT_TRUE(s->download_put(PendingDownload{9, "/dl/c", 0, "", "", "", false, 1}));
  EXPECT_EQ(s->downloads().size(), 1u);
}

// --- DownloadWriter ------------------------------------------------------------------------------

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return proto::hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Waits for the writer thread (no time limit: ctest's timeout guards a hang).
void wait_idle(DownloadWriter& w) {
  while (!w.idle()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

struct DownloadWriterTest : ::testing::Test {
  DownloadWriterTest() {
    uv_loop_init(&loop);
    uv_async_init(&loop, &wake, nullptr);  // sent to, never run: nothing to act on here
  }
  ~DownloadWriterTest() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  // Feeds `data` in libcurl-sized pieces of varying length, waiting whenever the writer has
  // no room, and checks the memory bound after every piece it took.
  void feed(DownloadWriter& w, const std::string& data, uint64_t offset) {
    std::mt19937 rng(7);
    size_t at = 0;
    while (at < data.size()) {
      size_t n = std::min<size_t>(data.size() - at, 1 + rng() % (512 * 1024));
      if (!w.put(data.data() + at, n)) {
        while (!w.has_room() && !w.error()) std::this_thread::sleep_for(std::chrono::microseconds(50));
        continue;
      }
      at += n;
      uint64_t held = offset + at - w.written();
      ASSERT_LE(held, DownloadWriter::kBlocks * DownloadWriter::kBlockSize);
      if (at % 3 == 0) w.flush_if_idle();  // partly filled blocks, as after a socket read
    }
    w.flush();
  }
  uv_loop_t loop{};
  uv_async_t wake{};
  ferry::test::TempDir dir;
};

std::string random_bytes(size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_F(DownloadWriterTest, writes_every_byte_in_order_and_hashes_from_zero) {
  std::string data = random_bytes(21 * 1024 * 1024 + 12345);  // > its blocks, odd tail
  std::string path = dir.sub("f.part");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  {
    DownloadWriter w(fd, 0, true, &wake);
    feed(w, data, 0);
    wait_idle(w);
    EXPECT_EQ(w.error(), 0);
    EXPECT_EQ(w.written(), data.size());
    EXPECT_EQ(w.digest(), sha256_hex(data));
  }
  ::close(fd);
  EXPECT_TRUE(file_bytes(path) == data) << "the file differs from the bytes put";
}

TEST_F(DownloadWriterTest, resumed_body_goes_after_the_partial_and_is_not_hashed) {
  std::string head = "0123456789", data = random_bytes(3 * 1024 * 1024 + 7);
  std::string path = dir.sub("f.part");
  std::ofstream(path, std::ios::binary) << head;
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  {
    DownloadWriter w(fd, head.size(), false, &wake);
    feed(w, data, head.size());
    wait_idle(w);
    EXPECT_EQ(w.written(), head.size() + data.size());
    EXPECT_EQ(w.digest(), "");  // the verifier hashes the file from disk after a resume
  }
  ::close(fd);
  EXPECT_TRUE(file_bytes(path) == head + data);
}

// Whole aligned blocks go to the disk with O_DIRECT (no page-cache copy); after an unaligned
// start (a resume after 10 bytes) the first block is cut short so the rest line up again.
TEST_F(DownloadWriterTest, aligned_blocks_are_written_direct_after_an_unaligned_start) {
  std::string probe = dir.sub("probe");
  int pfd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0600);
  if (pfd < 0) GTEST_SKIP() << "the temp dir's file system refuses O_DIRECT";
  ::close(pfd);
  std::string head = "0123456789", data = random_bytes(6 * DownloadWriter::kBlockSize + 99);
  std::string path = dir.sub("f.part");
  std::ofstream(path, std::ios::binary) << head;
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  {
    DownloadWriter w(fd, head.size(), false, &wake);
    for (size_t at = 0; at < data.size(); at += 64 * 1024) {
      size_t n = std::min<size_t>(64 * 1024, data.size() - at);
      while (!w.put(data.data() + at, n)) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    w.flush();
    wait_idle(w);
    EXPECT_EQ(w.error(), 0);
    EXPECT_EQ(w.written(), head.size() + data.size());
    // All but the realigning first block and the odd tail.
    EXPECT_EQ(w.direct_bytes(), 5 * DownloadWriter::kBlockSize);
  }
  ::close(fd);
  EXPECT_TRUE(file_bytes(path) == head + data);
}

TEST_F(DownloadWriterTest, a_failed_write_is_reported_and_nothing_counts_as_written) {
  std::string path = dir.sub("f.part");
  std::ofstream(path, std::ios::binary) << "";
  int fd = ::open(path.c_str(), O_RDONLY);  // every pwrite fails with EBADF
  ASSERT_GE(fd, 0);
  {
    DownloadWriter w(fd, 0, true, &wake);
    std::string data = random_bytes(2 * DownloadWriter::kBlockSize);
    ASSERT_TRUE(w.put(data.data(), data.size()));
    w.flush();
    wait_idle(w);
    EXPECT_EQ(w.error(), EBADF);
    EXPECT_EQ(w.written(), 0u);
  }
  ::close(fd);
}

}  // namespace
}  // namespace ferry::sdk
