#include "sdk/uv/download_io.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "proto/hex.h"
#include "sdk/core/download_plan.h"
#include "sdk/core/download_segments.h"
#include "sdk/uv/download_transfer.h"
#include "sdk/uv/segments_file.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

constexpr long kBufferSize = 512 * 1024;  // curl's receive buffer: fewer, larger writes
constexpr long kConnectTimeoutMs = 10000;
// A transfer that moves less than 1 byte/s for this long is cut and retried (a server that
// stopped sending without closing).
constexpr long kStallSeconds = 30;
constexpr size_t kErrorBodyMax = 512;
constexpr size_t kHashRead = 4u << 20;
// Progress reaches the manager at most this often (its events are rarer still): each report
// costs a driver step, and the writer may wake the loop for every block.
constexpr uint64_t kProgressMs = 10;
// A split download's record (download_segments.h) is rewritten at most this often while its
// segments run; what it lags behind is fetched again after a crash, never lost.
constexpr uint64_t kSegmentsSaveMs = 250;

std::string errno_text(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

std::string hex_digest(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  return proto::hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// The round trip a transfer's start showed: the TCP handshake of a new connection, else
// request to first byte (a reused connection). 0 when unknown.
uint64_t round_trip_us(const CurlApi& api, CURL* e) {
  if (!e) return 0;
  curl_off_t connect = 0, lookup = 0, pre = 0, first = 0;
  api.easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect);
  api.easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &lookup);
  api.easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
  api.easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &first);
  curl_off_t rtt = connect > lookup ? connect - lookup : first - pre;
  return rtt > 0 ? static_cast<uint64_t>(rtt) : 0;
}

}  // namespace

// Verify (hash if needed + fsync) or finalize (rename + fsync dir, or delete), on a worker.
struct DownloadIo::FileWork {
  uv_work_t req{};
  DownloadIo* io = nullptr;
  enum class Kind { Verify, Finalize } kind = Kind::Verify;
  VerifyJob verify;
  FinalizeJob finalize;
  bool ok = false;
  std::string sha256;
  std::string detail;
};

DownloadIo::DownloadIo(uv_loop_t* loop, DownloadManager& manager, std::string agent,
                       std::function<void()> kick)
    : loop_(loop), manager_(manager), agent_(std::move(agent)), kick_(std::move(kick)) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_async_init(loop_, &wake_, on_wake);
  wake_.data = this;
  // Test hook (docs/sdk.md section 10). Said on stderr: a capped production app would
  // otherwise be a mystery.
  if (const char* bps = std::getenv("FERRY_DOWNLOAD_MAX_BPS")) {
    max_recv_bps_ = std::atoll(bps);
    if (max_recv_bps_ > 0)
      std::fprintf(stderr, "ferry: downloads capped at %lld bytes/s (FERRY_DOWNLOAD_MAX_BPS)\n",
                   static_cast<long long>(max_recv_bps_));
  }
  // Test and benchmark hook: split every download into this many segments whatever the
  // round trip (at most one per 4 MiB still to fetch; 1: never split).
  if (const char* n = std::getenv("FERRY_DOWNLOAD_SEGMENTS")) {
    forced_segments_ = static_cast<uint32_t>(std::clamp(std::atoi(n), 0, 16));
    if (forced_segments_ > 1)
      std::fprintf(stderr, "ferry: downloads split into %u segments (FERRY_DOWNLOAD_SEGMENTS)\n",
                   forced_segments_);
  }
}

DownloadIo::~DownloadIo() {
  // stop() ran (the driver calls it before the loop's last run); anything left is freed here.
  while (!fetches_.empty()) end_fetch(*fetches_.begin()->second, true);
  if (multi_) api_->multi_cleanup(multi_);
}

uint64_t DownloadIo::now() {
  uv_update_time(loop_);
  return uv_now(loop_);
}

bool DownloadIo::step(uint64_t now_ms) {
  (void)now_ms;
  if (stopped_) return false;
  bool fed = false;
  uint64_t job = 0;
  while (manager_.poll_abort(job)) abort(job);
  FetchJob f;
  while (manager_.poll_fetch(f)) fed = start_fetch(f) || fed;
  end_failed_starts();
  VerifyJob v;
  while (manager_.poll_verify(v)) {
    auto w = std::make_unique<FileWork>();
    w->kind = FileWork::Kind::Verify;
    w->verify = std::move(v);
    start_work(std::move(w));
  }
  FinalizeJob z;
  while (manager_.poll_finalize(z)) {
    auto w = std::make_unique<FileWork>();
    w->kind = FileWork::Kind::Finalize;
    w->finalize = std::move(z);
    start_work(std::move(w));
  }
  return fed;
}

// --- Starting a fetch ---------------------------------------------------------------------------

bool DownloadIo::finish_early(const FetchJob& job, int fd, FetchOutcome outcome, uint64_t offset) {
  if (fd >= 0) ::close(fd);
  if (outcome.kind == FetchOutcome::Kind::Complete)
    manager_.on_fetch_started(job.job, offset, now());
  manager_.on_fetch_done(job.job, outcome, now());
  return true;
}

// libcurl is loaded (curl_api.h) and the multi handle made on the first fetch, not with the
// client: most processes never download.
bool DownloadIo::ensure_multi(std::string& why) {
  if (multi_) return true;
  api_ = curl_api(&why);
  if (!api_) return false;
  multi_ = api_->multi_init();
  if (!multi_) {
    why = "libcurl: curl_multi_init failed";
    return false;
  }
  api_->multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, socket_cb);
  api_->multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  api_->multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, timer_cb);
  api_->multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  return true;
}

bool DownloadIo::start_fetch(const FetchJob& job) {
  if (std::string why; !ensure_multi(why)) {
    return finish_early(job, -1, {FetchOutcome::Kind::Fail, FERRY_EHTTP, why, ""}, 0);
  }
  // 0666: the umask decides the final file's mode, as for `curl -o`.
  int fd = ::open(job.partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    return finish_early(
        job, -1,
        {FetchOutcome::Kind::Fail, FERRY_EIO, errno_text("cannot open", job.partial, errno), ""},
        0);
  }
  // Two clients on one state directory (a `ferry listen` and a `ferry download`) may both
  // resume the same download; only the one holding the lock writes, the other retries later.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return finish_early(job, fd,
                        {FetchOutcome::Kind::Retry, FERRY_EIO,
                         job.partial + " is being written by another ferry client", ""},
                        0);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return finish_early(
        job, fd,
        {FetchOutcome::Kind::Fail, FERRY_EIO, errno_text("cannot stat", job.partial, errno), ""},
        0);
  }
  uint64_t partial_size = static_cast<uint64_t>(st.st_size);
  auto f = std::make_unique<Fetch>();
  f->job = job;
  f->fd = fd;
  // A split download's record says what is held; without one the partial's size does.
  std::string why;
  bool have_record =
      read_segments_file(segments_path(job.partial), job.size, partial_size, f->segs, why);
  if (have_record && job.sha256.empty()) {  // cannot happen: a split needs the hash
    have_record = false;
    f->segs.clear();
    why = "no hash to resume the record's ranges against";
  }
  if (have_record) {
    uint64_t held = segments_held(f->segs);
    f->reported = held;
    manager_.on_fetch_started(job.job, held, now());
    f->parts.resize(f->segs.size());
    bool any = false;
    for (uint32_t i = 0; i < f->segs.size(); i++) {
      if (f->segs[i].complete()) continue;
      any = true;
      start_transfer(*f, i, f->segs[i].next(), f->segs[i].end, "", "");
    }
    Fetch* raw = f.get();
    fetches_[job.job] = std::move(f);
    if (!any) finish_split(*raw);  // every segment was already complete: verify it
    return true;
  }
  // A record that cannot be trusted: the bytes it described cannot be either.
  bool distrust = !why.empty();
  if (distrust) ::unlink(segments_path(job.partial).c_str());
  ResumePlan plan = plan_resume(distrust ? 0 : partial_size, job.size, job.sha256);
  if ((distrust || plan.action == ResumePlan::Action::Truncate) && ::ftruncate(fd, 0) != 0) {
    f.reset();
    return finish_early(job, fd,
                        {FetchOutcome::Kind::Fail, FERRY_EIO,
                         errno_text("cannot truncate", job.partial, errno), ""},
                        0);
  }
  if (plan.action == ResumePlan::Action::Verify) {
    f.reset();
    return finish_early(job, fd, {FetchOutcome::Kind::Complete, FERRY_OK, "", ""}, plan.offset);
  }
  // Splitting needs the size and the hash (If-Range on every range, a whole-file check).
  f->may_split = job.size > 0 && !job.sha256.empty();
  f->parts.resize(1);
  f->reported = plan.offset;
  Fetch* raw = f.get();
  fetches_[job.job] = std::move(f);
  manager_.on_fetch_started(job.job, plan.offset, now());
  start_transfer(*raw, 0, plan.offset, 0, plan.range, plan.if_range);
  return true;
}

// One HTTP GET of [from, end) (end 0: to the file's end) into the fetch's partial.
void DownloadIo::start_transfer(Fetch& f, uint32_t seg, uint64_t from, uint64_t end,
                                const std::string& range, const std::string& if_range) {
  auto t = std::make_unique<Transfer>();
  t->io = this;
  t->fetch = &f;
  t->seg = seg;
  t->end = end;
  t->requested = t->start = t->pos = from;
  t->started_ms = now();
  t->serial = ++serials_;
  CURL* e = t->easy = api_->easy_init();
  api_->easy_setopt(e, CURLOPT_URL, f.job.url.c_str());
  api_->easy_setopt(e, CURLOPT_PRIVATE, t.get());
  api_->easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  api_->easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  api_->easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
  api_->easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  api_->easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  api_->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // the app's thread, the app's signals
  api_->easy_setopt(e, CURLOPT_USERAGENT, agent_.c_str());
  api_->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  // libcurl 7.88 checks the receive cap only between reads of up to 100 buffers each, so a
  // capped transfer (test hook) gets a small buffer or one socket event swallows the file.
  long buffer = kBufferSize;
  if (max_recv_bps_ > 0)
    buffer = static_cast<long>(std::clamp<int64_t>(max_recv_bps_ / 100, 1024, 16384));
  api_->easy_setopt(e, CURLOPT_BUFFERSIZE, buffer);
  api_->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  api_->easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  api_->easy_setopt(e, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
  api_->easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  if (max_recv_bps_ > 0)
    api_->easy_setopt(e, CURLOPT_MAX_RECV_SPEED_LARGE, static_cast<curl_off_t>(max_recv_bps_));
  std::string r = range, ir = if_range;
  if (end > 0) {  // a segment: always a bounded range, on the content of this hash only
    r = "bytes=" + std::to_string(from) + "-" + std::to_string(end - 1);
    ir = "\"" + f.job.sha256 + "\"";
  }
  if (!r.empty()) {
    t->headers = api_->slist_append(t->headers, ("Range: " + r).c_str());
    if (!ir.empty()) t->headers = api_->slist_append(t->headers, ("If-Range: " + ir).c_str());
    api_->easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  }
  Transfer* raw = t.get();
  f.parts[seg] = std::move(t);
  CURLMcode mc = api_->multi_add_handle(multi_, raw->easy);
  if (mc != CURLM_OK) {
    // Ends like a transfer that got no answer: a retry from the bytes held.
    raw->rc = CURLE_FAILED_INIT;
    std::snprintf(raw->errbuf, sizeof raw->errbuf, "libcurl: %s", api_->multi_strerror(mc));
    api_->easy_cleanup(raw->easy);
    raw->easy = nullptr;
    failed_starts_.push_back({f.job.job, raw, raw->serial});
  }
}

// --- While it runs ------------------------------------------------------------------------------

size_t DownloadIo::header_cb(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    t->content_range.clear();  // a new response (after a 100 Continue, say)
  } else if (starts_with_nocase(line, "content-range:")) {
    std::string_view v = line.substr(14);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
      v.remove_suffix(1);
    t->content_range = std::string(v);
  }
  return size * n;
}

void DownloadIo::decide(Transfer& t) {
  if (t.decided) return;
  t.decided = true;
  long status = 0;
  api_->easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  t.plan = plan_response(status, t.content_range, t.requested, t.pos, t.fetch->job.size);
  uint64_t rtt = round_trip_us(*api_, t.easy);
  if (rtt > 0 && (t.fetch->rtt_us == 0 || rtt < t.fetch->rtt_us)) t.fetch->rtt_us = rtt;
  if (t.plan.action == ResponsePlan::Action::Restart && (t.end > 0 || t.fetch->split())) {
    // The whole file, when a range of a split download was asked for: the server holds
    // other content now (If-Range). The segments' bytes cannot be trusted: start over.
    t.plan.action = ResponsePlan::Action::StartOver;
    t.plan.err = FERRY_EHTTP;
    t.plan.detail = "HTTP 200 for a range of " + std::to_string(t.requested) +
                    ": the server's content changed, or it does not serve ranges";
    // The next fetch starts over in one piece; it never splits again (a server or proxy
    // that ignores ranges would otherwise make every split start the file over).
    unsplittable_.insert(t.fetch->job.partial);
    return;
  }
  if (t.fetch->may_split && (t.plan.action == ResponsePlan::Action::Append ||
                             t.plan.action == ResponsePlan::Action::Restart))
    t.fetch->split_due = true;  // judged after this socket action (not inside libcurl)
  if (t.plan.action == ResponsePlan::Action::Restart) {
    // The whole file follows: start the partial (and the hash) afresh.
    // No writer exists yet (it starts at the first body byte, after this).
    if (::ftruncate(t.fetch->fd, 0) != 0) t.write_errno = errno;
    t.start = t.pos = 0;
  }
}

size_t DownloadIo::write_cb(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t len = size * n;
  t->io->decide(*t);
  bool body = t->plan.action == ResponsePlan::Action::Append ||
              t->plan.action == ResponsePlan::Action::Restart;
  if (!body) {  // an error answer: keep the start of its text for the detail
    if (t->error_body.size() < kErrorBodyMax)
      t->error_body.append(data, std::min(len, kErrorBodyMax - t->error_body.size()));
    return len;
  }
  // Returning 0 aborts the transfer (CURLE_WRITE_ERROR); outcome_of says why.
  if (t->write_errno || (t->writer && t->writer->error())) return 0;
  size_t take = len;
  if (t->end > 0 && t->pos + len >= t->end) {
    // Its segment ends here (an answer that goes on, cut at the next segment's start).
    take = static_cast<size_t>(t->end - t->pos);
  } else if (t->fetch->job.size > 0 && t->pos + len > t->fetch->job.size) {
    t->write_errno = EFBIG;  // more bytes than the message has: never store them
    return 0;
  }
  try {
    if (!t->writer)
      t->writer = std::make_unique<DownloadWriter>(t->fetch->fd, t->start, t->start == 0 && t->end == 0,
                                                   &t->io->wake_);
    if (take > 0 && !t->writer->put(data, take)) {
      // The writer is 8 MiB behind: stop reading the socket until it catches up (on_wake).
      t->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    }
  } catch (const std::exception&) {  // no thread or no memory: never through libcurl
    t->write_errno = ENOMEM;
    return 0;
  }
  t->pos += take;
  if (take < len) {
    t->reached_end = true;  // ends the transfer (CURLE_WRITE_ERROR), judged a success
    return take;
  }
  return len;
}

// --- When it ends -------------------------------------------------------------------------------

// Called once the writer has written everything (or dropped it after an error).
FetchOutcome DownloadIo::outcome_of(Transfer& t, CURLcode rc) {
  using K = FetchOutcome::Kind;
  if (!t.write_errno && t.writer) t.write_errno = t.writer->error();
  uint64_t on_disk = t.writer ? t.writer->written() : t.start;
  if (t.write_errno == EFBIG) {
    t.truncated = true;
    if (::ftruncate(t.fetch->fd, 0) != 0) { /* the size check on the next attempt truncates */
    }
    return {K::Retry, FERRY_EHTTP, "the server sent more bytes than the file has", ""};
  }
  if (t.write_errno) {
    return {K::Fail, FERRY_EIO, errno_text("cannot write", t.fetch->job.partial, t.write_errno), ""};
  }
  if (rc != CURLE_OK && !t.decided) {
    // No answer at all: refused, reset, timed out. The bytes on disk stay for the retry.
    std::string why = *t.errbuf ? t.errbuf : api_->easy_strerror(rc);
    return {K::Retry, FERRY_EHTTP, "cannot fetch " + t.fetch->job.url + ": " + why, ""};
  }
  decide(t);
  std::string body = t.error_body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  std::string detail = t.plan.detail + (body.empty() ? "" : " (" + body + ")");
  switch (t.plan.action) {
    case ResponsePlan::Action::Append:
    case ResponsePlan::Action::Restart:
      if (rc != CURLE_OK && !(t.reached_end && rc == CURLE_WRITE_ERROR)) {
        std::string why = *t.errbuf ? t.errbuf : api_->easy_strerror(rc);
        return {K::Retry, FERRY_EHTTP,
                "transfer cut at byte " + std::to_string(on_disk) + ": " + why, ""};
      }
      if (uint64_t want = t.end > 0 ? t.end : t.fetch->job.size; want > 0 && on_disk != want) {
        return {K::Retry, FERRY_EHTTP,
                "the answer ended at byte " + std::to_string(on_disk) + " of " +
                    std::to_string(want),
                ""};
      }
      // An empty body from 0 leaves no writer: the verifier hashes the (empty) file. A split
      // download's writers each saw one segment: the verifier hashes it from disk.
      return {K::Complete, FERRY_OK, "",
              t.writer && !t.fetch->split() ? t.writer->digest() : ""};
    case ResponsePlan::Action::Complete:
      return {K::Complete, FERRY_OK, "", ""};
    case ResponsePlan::Action::StartOver:
      t.truncated = true;
      if (::ftruncate(t.fetch->fd, 0) != 0)
        return {K::Fail, FERRY_EIO, "cannot truncate " + t.fetch->job.partial, ""};
      return {K::Retry, t.plan.err, detail, ""};
    case ResponsePlan::Action::RefreshUrl:
      return {K::RefreshUrl, t.plan.err, detail, ""};
    case ResponsePlan::Action::Fail:
      return {K::Fail, t.plan.err, detail, ""};
    case ResponsePlan::Action::Retry:
      return {K::Retry, t.plan.err, detail, ""};
  }
  return {K::Retry, FERRY_EHTTP, detail, ""};
}

void DownloadIo::release(Transfer& t) {
  if (t.easy) {
    api_->multi_remove_handle(multi_, t.easy);
    api_->easy_cleanup(t.easy);
    t.easy = nullptr;
  }
  api_->slist_free_all(t.headers);
  t.headers = nullptr;
  // Joins the writer thread (it finishes the block in hand, drops the rest) before the fd
  // it writes to closes: the next fetch of this file never races a stale write. What it had
  // written before is what the transfer holds (the block in hand may land too: fetched
  // again, never claimed unwritten).
  if (t.writer) t.released_disk = t.writer->written();
  t.writer.reset();
}

// Stops every transfer of the fetch, keeps the record of a split one up to date, closes the
// partial (which also releases the flock). The fetch is gone afterwards.
void DownloadIo::end_fetch(Fetch& f, bool keep_record) {
  for (auto& t : f.parts) {
    if (!t) continue;
    release(*t);  // the writer is joined: on_disk() is final
    if (f.split()) note_done(f, *t);
    t.reset();
  }
  if (f.split()) {
    if (keep_record) {
      save_segments(f, false);
    } else {
      ::unlink(segments_path(f.job.partial).c_str());
    }
  }
  if (f.fd >= 0) ::close(f.fd);
  f.fd = -1;
  uint64_t job = f.job.job;  // not a reference into the element being erased
  fetches_.erase(job);
}

void DownloadIo::on_transfer_done(Transfer& t, CURLcode rc) {
  t.done = true;
  t.rc = rc;
  if (t.writer) {
    t.writer->flush();
    if (!t.writer->idle()) return;  // on_wake completes it once the writer is done
  }
  complete(t);
}

void DownloadIo::complete(Transfer& t) {
  Fetch& f = *t.fetch;
  FetchOutcome o = outcome_of(t, t.rc);
  uint64_t job = f.job.job;
  if (!f.split()) {
    report_progress(f, true);
    end_fetch(f, false);
    manager_.on_fetch_done(job, o, now());
    fed_ = true;
    return;
  }
  release(t);
  note_done(f, t);
  bool truncated = t.truncated;
  f.parts[t.seg].reset();
  if (o.kind != FetchOutcome::Kind::Complete) {
    // One segment's failure ends the fetch: the manager retries (or refreshes the URL, or
    // fails) as for one transfer, and the next fetch resumes every segment from its record.
    report_progress(f, true);
    end_fetch(f, !truncated);
    manager_.on_fetch_done(job, o, now());
    fed_ = true;
    return;
  }
  steal(f);
  for (auto& p : f.parts)
    if (p) return report_progress(f, false);  // others still run
  finish_split(f);
}

void DownloadIo::report_progress(Fetch& f, bool force) {
  uint64_t have = held(f);
  uint64_t ms = now();
  if (f.split() && ms >= f.saved_ms + kSegmentsSaveMs) save_segments(f, false);
  if (have == f.reported) return;
  if (!force && ms < f.reported_ms + kProgressMs) return;
  f.reported = have;
  f.reported_ms = ms;
  manager_.on_fetch_progress(f.job.job, have, ms);
  fed_ = true;
}

// The writers' wake-up: blocks were written. Resume transfers that waited for room, hand
// on partly filled blocks, report progress and complete transfers whose bytes are all down.
void DownloadIo::on_wake(uv_async_t* h) {
  auto* io = static_cast<DownloadIo*>(h->data);
  if (io->stopped_) return;
  // Completing one transfer may end its whole fetch: look each one up again.
  for (const TransferRef& r : io->running()) {
    if (!io->alive(r) || !r.t->writer) continue;
    Transfer* t = r.t;
    if (t->done) {
      if (t->writer->idle()) io->complete(*t);
      continue;
    }
    // After an error too: the write callback then refuses the bytes and the transfer ends.
    if (t->paused && (t->writer->has_room() || t->writer->error())) {
      t->paused = false;
      // May call write_cb at once with the bytes libcurl held back (and pause again).
      io->api_->easy_pause(t->easy, CURLPAUSE_CONT);
    }
    t->writer->flush_if_idle();
    // A drained writer may not wake the loop again soon (a stalled sender): report it now.
    io->report_progress(*t->fetch, t->writer->idle());
  }
  if (io->fed_) {
    io->fed_ = false;
    io->kick_();
  }
}

// Transfers libcurl would not take (curl_multi_add_handle failed) end like a transfer that
// got no answer, once nothing is iterating over the fetches.
void DownloadIo::end_failed_starts() {
  std::vector<TransferRef> failed;
  failed.swap(failed_starts_);
  for (const TransferRef& r : failed) {
    if (alive(r)) on_transfer_done(*r.t, r.t->rc);
  }
}

std::vector<DownloadIo::TransferRef> DownloadIo::running() const {
  std::vector<TransferRef> all;
  for (const auto& [job, f] : fetches_)
    for (const auto& t : f->parts)
      if (t) all.push_back({job, t.get(), t->serial});
  return all;
}

bool DownloadIo::alive(const TransferRef& r) const {
  auto it = fetches_.find(r.job);
  if (it == fetches_.end()) return false;
  for (const auto& p : it->second->parts)
    if (p.get() == r.t && p->serial == r.serial) return true;
  return false;
}

// After libcurl read sockets: a writer with nothing to do gets the partly filled block now
// rather than when it is full (a slow sender's bytes reach the disk and the progress).
void DownloadIo::after_socket_action() {
  std::vector<Fetch*> split;
  for (auto& [job, f] : fetches_) {
    for (auto& t : f->parts)
      if (t && t->writer && !t->done) t->writer->flush_if_idle();
    if (f->split_due) split.push_back(f.get());
  }
  for (Fetch* f : split) try_split(*f);
  end_failed_starts();
  check_multi_info();
}

void DownloadIo::abort(uint64_t job) {
  auto it = fetches_.find(job);
  if (it == fetches_.end()) return;
  end_fetch(*it->second, true);
}

void DownloadIo::check_multi_info() {
  // Collect first: handling a result changes the set of handles (and may end whole fetches).
  std::vector<std::pair<TransferRef, CURLcode>> done;
  int left = 0;
  while (CURLMsg* m = api_->multi_info_read(multi_, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    api_->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
    if (t) done.push_back({{t->fetch->job.job, t, t->serial}, m->data.result});
  }
  for (const auto& [r, rc] : done) {
    if (alive(r)) on_transfer_done(*r.t, rc);
  }
  // The driver publishes whatever the manager queued.
  if (fed_) {
    fed_ = false;
    kick_();
  }
}

// --- libcurl <-> libuv --------------------------------------------------------------------------

int DownloadIo::socket_cb(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* io = static_cast<DownloadIo*>(userp);
  auto* s = static_cast<Socket*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      io->close_socket(s);
      io->api_->multi_assign(io->multi_, fd, nullptr);
    }
    return 0;
  }
  if (!s) {
    s = new Socket();
    s->fd = fd;
    s->io = io;
    if (uv_poll_init_socket(io->loop_, &s->poll, fd) != 0) {
      delete s;
      return -1;
    }
    s->poll.data = s;
    io->sockets_.insert(s);
    io->api_->multi_assign(io->multi_, fd, s);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

void DownloadIo::close_socket(Socket* s) {
  sockets_.erase(s);
  uv_poll_stop(&s->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->poll),
           [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
}

int DownloadIo::timer_cb(CURLM*, long timeout_ms, void* userp) {
  auto* io = static_cast<DownloadIo*>(userp);
  if (io->stopped_) return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(&io->timer_);
  } else {
    // 0 means "as soon as possible": the next loop iteration, never from inside libcurl.
    uv_timer_start(&io->timer_, on_timer, static_cast<uint64_t>(timeout_ms), 0);
  }
  return 0;
}

void DownloadIo::on_timer(uv_timer_t* h) {
  auto* io = static_cast<DownloadIo*>(h->data);
  int running = 0;
  io->api_->multi_socket_action(io->multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  io->after_socket_action();
}

void DownloadIo::on_poll(uv_poll_t* h, int status, int events) {
  auto* s = static_cast<Socket*>(h->data);
  DownloadIo* io = s->io;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running = 0;
  io->api_->multi_socket_action(io->multi_, s->fd, flags, &running);
  io->after_socket_action();
}

// --- Files, off the loop ------------------------------------------------------------------------

void DownloadIo::start_work(std::unique_ptr<FileWork> w) {
  w->io = this;
  w->req.data = w.get();
  if (uv_queue_work(loop_, &w->req, file_work, file_after) == 0) w.release();
}

void DownloadIo::file_work(uv_work_t* req) {
  auto* w = static_cast<FileWork*>(req->data);
  if (w->kind == FileWork::Kind::Verify) {
    const std::string& path = w->verify.partial;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      w->detail = errno_text("cannot open", path, errno);
      return;
    }
    w->sha256 = w->verify.sha256;
    bool ok = true;
    if (w->sha256.empty()) {  // resumed: hash what is on disk
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
      std::vector<char> buf(kHashRead);
      for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          w->detail = errno_text("cannot read", path, errno);
          ok = false;
          break;
        }
        if (n == 0) break;
        EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
      }
      w->sha256 = hex_digest(ctx);
      EVP_MD_CTX_free(ctx);
    }
    // Durable before it is renamed into place, so a crash never leaves a short file there.
    if (ok && ::fsync(fd) != 0) {
      w->detail = errno_text("cannot fsync", path, errno);
      ok = false;
    }
    ::close(fd);
    w->ok = ok;
    return;
  }
  const FinalizeJob& f = w->finalize;
  ::unlink(segments_path(f.partial).c_str());  // a split download's record, if any is left
  if (!f.commit) {
    w->ok = ::unlink(f.partial.c_str()) == 0 || errno == ENOENT;
    return;
  }
  if (::rename(f.partial.c_str(), f.dest.c_str()) != 0) {
    w->detail = "cannot move " + f.partial + " to " + f.dest + ": " + std::strerror(errno);
    return;
  }
  size_t slash = f.dest.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : f.dest.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // the rename itself survives a crash
    ::close(dfd);
  }
  w->ok = true;
}

void DownloadIo::file_after(uv_work_t* req, int status) {
  std::unique_ptr<FileWork> w(static_cast<FileWork*>(req->data));
  DownloadIo* io = w->io;
  if (io->stopped_ || status == UV_ECANCELED) return;
  if (w->kind == FileWork::Kind::Verify) {
    io->manager_.on_verified(w->verify.job, w->ok, w->sha256, w->detail, io->now());
  } else if (w->finalize.job != 0) {
    io->manager_.on_finalized(w->finalize.job, w->ok, w->detail, io->now());
  } else {
    return;
  }
  io->kick_();
}

// --- Stopping -----------------------------------------------------------------------------------

void DownloadIo::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Every writer is joined; a split download's record keeps what its segments hold.
  while (!fetches_.empty()) end_fetch(*fetches_.begin()->second, true);
  // Cached connections: cleanup may report their sockets removed; any it does not are
  // closed below so the loop can end.
  if (multi_) api_->multi_cleanup(multi_);
  multi_ = nullptr;
  while (!sockets_.empty()) close_socket(*sockets_.begin());
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  // Every writer thread is joined (release): nothing sends on it any more.
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
}

}  // namespace ferry::sdk
