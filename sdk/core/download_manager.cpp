#include "sdk/core/download_manager.h"

#include <algorithm>
#include <utility>

#include "proto/json.h"
#include "sdk/core/download_plan.h"
#include "sdk/core/download_wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

// The table used when the state store keeps no downloads (unit tests with a minimal fake
// store). Not thread-safe: the real stores (sdk/state/) are, and are what the API uses.
class LocalDownloads final : public DownloadStore {
 public:
  std::vector<PendingDownload> downloads() override {
    std::vector<PendingDownload> out;
    for (auto& [seq, d] : rows_) out.push_back(d);
    return out;
  }
  bool download_get(uint64_t id, PendingDownload& out) override {
    for (auto& [seq, d] : rows_) {
      if (d.message_id == id) return out = d, true;
    }
    return false;
  }
  bool download_put(const PendingDownload& d) override {
    for (auto& [seq, row] : rows_) {
      if (row.message_id == d.message_id) return row = d, true;
    }
    rows_[next_++] = d;
    return true;
  }
  bool download_remove(uint64_t id) override {
    for (auto it = rows_.begin(); it != rows_.end(); ++it) {
      if (it->second.message_id == id) return rows_.erase(it), true;
    }
    return true;
  }

 private:
  std::map<uint64_t, PendingDownload> rows_;
  uint64_t next_ = 0;
};

}  // namespace

DownloadManager::DownloadManager(DownloadManagerConfig config, DownloadStore* store,
                                 RandomSource random)
    : config_(config), store_(store), random_(std::move(random)) {
  if (!store_) {
    own_store_ = std::make_unique<LocalDownloads>();
    store_ = own_store_.get();
  }
}

DownloadManager::~DownloadManager() = default;

void DownloadManager::load() {
  for (const PendingDownload& d : store_->downloads()) add(d);
}

void DownloadManager::add(const PendingDownload& rec) {
  if (downloads_.count(rec.message_id)) return;
  Download& d = downloads_[rec.message_id];
  d.rec = rec;
  d.st = rec.paused ? St::Paused : St::NeedUrl;
  d.backoff = std::make_unique<Backoff>(config_.retry_min_ms, config_.retry_max_ms, random_);
}

DownloadManager::Download* DownloadManager::find(uint64_t id) {
  auto it = downloads_.find(id);
  return it == downloads_.end() ? nullptr : &it->second;
}

DownloadManager::Download* DownloadManager::by_job(uint64_t job) {
  if (job == 0) return nullptr;
  for (auto& [id, d] : downloads_) {
    if (d.job == job) return &d;
  }
  return nullptr;
}

// --- App side -----------------------------------------------------------------------------------

void DownloadManager::submit(const PendingDownload& rec, uint64_t now) {
  (void)now;
  add(rec);
}

bool DownloadManager::pause(uint64_t id, uint64_t now) {
  (void)now;
  Download* d = find(id);
  if (!d) return false;
  // Verifying and finalizing take moments and touch no network: let them finish.
  if (d->st == St::Paused || d->st == St::Verifying || d->st == St::Finalizing) return true;
  stop_io(*d);
  d->st = St::Paused;
  d->rec.paused = true;
  store_->download_put(d->rec);
  emit_status(*d, FERRY_DOWNLOAD_PAUSED, FERRY_OK, "", d->have);
  return true;
}

bool DownloadManager::resume(uint64_t id, uint64_t now) {
  (void)now;
  Download* d = find(id);
  if (!d) return false;
  if (d->st != St::Paused) return true;
  d->rec.paused = false;
  store_->download_put(d->rec);
  d->backoff->reset();
  if (d->have_url)
    make_ready(*d);
  else
    d->st = St::NeedUrl;
  return true;
}

bool DownloadManager::cancel(uint64_t id, uint64_t now) {
  (void)now;
  Download* d = find(id);
  if (!d) return false;
  finish(*d, FERRY_DOWNLOAD_CANCELLED, FERRY_OK, "cancelled");
  return true;
}

void DownloadManager::request_url(uint64_t request_id, uint64_t message_id, uint32_t ttl_s,
                                  uint64_t now) {
  url_requests_.push_back(UrlRequest{request_id, message_id, ttl_s, now + config_.url_wait_ms});
}

void DownloadManager::drop_all(int err, const std::string& detail) {
  while (!downloads_.empty())
    finish(downloads_.begin()->second, FERRY_DOWNLOAD_FAILED, err, detail);
  for (const UrlRequest& r : url_requests_) {
    Event e;
    e.type = FERRY_EVENT_DOWNLOAD_URL;
    e.status = err;
    e.detail = detail;
    e.request_id = r.request_id;
    e.message.id = r.message_id;
    events_.push_back(std::move(e));
  }
  url_requests_.clear();
}

// --- Chat side ----------------------------------------------------------------------------------

bool DownloadManager::next_chat_request(uint64_t rid, std::string& body) {
  if (!online_) return false;
  if (!url_requests_.empty()) {
    UrlRequest r = url_requests_.front();
    url_requests_.pop_front();
    body = wire::download_url_body(rid, r.message_id, r.ttl_s);
    in_flight_[rid] = InFlight{true, r, r.message_id};
    return true;
  }
  for (auto& [id, d] : downloads_) {
    if (d.st != St::NeedUrl) continue;
    d.st = St::AskingUrl;
    body = wire::download_url_body(rid, id, 0);
    in_flight_[rid] = InFlight{false, {}, id};
    return true;
  }
  return false;
}

void DownloadManager::on_chat_response(uint64_t rid, bool ok, const cJSON* body, int err,
                                       const std::string& code, const std::string& msg,
                                       uint64_t now) {
  auto it = in_flight_.find(rid);
  if (it == in_flight_.end()) return;
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  if (f.app) return on_app_url(f.req, ok, body, err, msg);
  Download* d = find(f.message_id);
  if (!d) return;  // cancelled meanwhile
  on_grant(*d, ok, body, err, code, msg, now);
}

void DownloadManager::on_grant(Download& d, bool ok, const cJSON* body, int err,
                               const std::string& code, const std::string& msg, uint64_t now) {
  if (!ok) {
    if (code == "not_ready") return fail(d, FERRY_ENOTREADY, msg);
    if (code == "unknown_message") return fail(d, FERRY_ENOTFOUND, msg);
    // No HTTP address yet, or the server's own trouble: both pass.
    if (code == "no_resource_server" || err == FERRY_ESERVER) {
      if (d.st == St::AskingUrl) wait_retry(d, err, msg, now);
      return;
    }
    return fail(d, err, msg);
  }
  DownloadUrl url;
  std::string why;
  if (!wire::parse_download_grant(body, url, why)) {
    return fail(d, FERRY_EPROTO, "bad download_url answer: " + why);
  }
  if (!still_pending(d)) return;  // never re-create a record another client removed
  if (d.rec.sha256 != url.sha256 || d.rec.size != url.size || d.rec.name != url.name ||
      d.rec.mime != url.mime) {
    d.rec.size = url.size;
    d.rec.sha256 = url.sha256;
    d.rec.name = url.name;
    d.rec.mime = url.mime;
    store_->download_put(d.rec);
  }
  d.url = std::move(url);
  d.have_url = true;
  if (d.st == St::AskingUrl) make_ready(d);  // a pause meanwhile keeps it paused, URL in hand
}

void DownloadManager::on_app_url(const UrlRequest& r, bool ok, const cJSON* body, int err,
                                 const std::string& msg) {
  Event e;
  e.type = FERRY_EVENT_DOWNLOAD_URL;
  e.request_id = r.request_id;
  e.message.id = r.message_id;
  if (!ok) {
    e.status = err;
    e.detail = msg;
  } else {
    std::string why;
    if (!wire::parse_download_grant(body, e.url, why)) {
      e.status = FERRY_EPROTO;
      e.detail = "bad download_url answer: " + why;
      e.url = DownloadUrl{};
    }
  }
  events_.push_back(std::move(e));
}

void DownloadManager::on_chat_online(uint64_t now) {
  (void)now;
  online_ = true;
}

void DownloadManager::on_chat_offline(uint64_t now) {
  (void)now;
  online_ = false;
  // Answers on the dead connection never come: ask again on the next one, in order.
  std::vector<std::pair<uint64_t, InFlight>> lost(in_flight_.begin(), in_flight_.end());
  in_flight_.clear();
  std::sort(lost.begin(), lost.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (auto& [rid, f] : lost) {
    if (f.app) {
      url_requests_.push_front(f.req);
    } else if (Download* d = find(f.message_id); d && d->st == St::AskingUrl) {
      d->st = St::NeedUrl;
    }
  }
}

// --- I/O side -----------------------------------------------------------------------------------

void DownloadManager::make_ready(Download& d) {
  d.st = St::Ready;
  fetches_.push_back(d.rec.message_id);
}

bool DownloadManager::poll_abort(uint64_t& job) {
  if (aborts_.empty()) return false;
  job = aborts_.front();
  aborts_.pop_front();
  return true;
}

bool DownloadManager::poll_fetch(FetchJob& out) {
  while (!fetches_.empty()) {
    uint64_t id = fetches_.front();
    fetches_.pop_front();
    Download* d = find(id);
    if (!d || d->st != St::Ready) continue;
    if (!still_pending(*d)) continue;
    d->st = St::Fetching;
    d->job = next_job_++;
    out.job = d->job;
    out.message_id = id;
    out.url = d->url.url;
    out.partial = partial_path(d->rec.dest);
    out.size = d->rec.size;
    out.sha256 = d->rec.sha256;
    return true;
  }
  return false;
}

void DownloadManager::on_fetch_started(uint64_t job, uint64_t offset, uint64_t now) {
  Download* d = by_job(job);
  if (!d || d->st != St::Fetching) return;
  d->fetch_from = d->have = offset;
  emit_status(*d, FERRY_DOWNLOAD_FETCHING, FERRY_OK, "", offset);
  d->progress_emitted = false;
  emit_progress(*d, offset, now);
}

void DownloadManager::on_fetch_progress(uint64_t job, uint64_t have, uint64_t now) {
  Download* d = by_job(job);
  if (!d || d->st != St::Fetching) return;
  d->have = have;
  emit_progress(*d, have, now);
}

void DownloadManager::on_fetch_done(uint64_t job, const FetchOutcome& o, uint64_t now) {
  Download* d = by_job(job);
  if (!d || d->st != St::Fetching) return;
  d->job = 0;
  switch (o.kind) {
    case FetchOutcome::Kind::Complete:
      d->have = d->rec.size;
      emit_progress(*d, d->have, now);
      d->refreshes = 0;
      d->st = St::Verifying;
      d->job = next_job_++;
      verifies_.push_back(VerifyJob{d->job, partial_path(d->rec.dest), o.sha256});
      emit_status(*d, FERRY_DOWNLOAD_VERIFYING, FERRY_OK, "", d->have);
      return;
    case FetchOutcome::Kind::Retry:
      // A transfer that moved forward before it broke starts the backoff afresh: a long
      // download cut once should not wait as if every attempt had failed. One that got
      // nothing asks for a fresh URL first: a resource server restarted elsewhere (another
      // port) announces its new address to the chat server, never to us.
      if (d->have > d->fetch_from)
        d->backoff->reset();
      else
        d->have_url = false;
      return wait_retry(*d, o.err, o.detail, now);
    case FetchOutcome::Kind::RefreshUrl:
      if (++d->refreshes > config_.max_url_refresh) return fail(*d, o.err, o.detail);
      d->have_url = false;
      d->st = St::NeedUrl;
      emit_status(*d, FERRY_DOWNLOAD_RETRYING, o.err, o.detail, d->have);
      return;
    case FetchOutcome::Kind::Fail:
      return fail(*d, o.err, o.detail);
  }
}

bool DownloadManager::poll_verify(VerifyJob& out) {
  if (verifies_.empty()) return false;
  out = std::move(verifies_.front());
  verifies_.pop_front();
  return true;
}

void DownloadManager::on_verified(uint64_t job, bool io_ok, const std::string& sha256,
                                  const std::string& detail, uint64_t now) {
  (void)now;
  Download* d = by_job(job);
  if (!d || d->st != St::Verifying) return;
  d->job = 0;
  if (!io_ok) return fail(*d, FERRY_EIO, detail);
  if (plan_verify(sha256, d->rec.sha256) == VerifyOutcome::Mismatch) {
    return fail(*d, FERRY_EHASHMISMATCH,
                "the file's SHA-256 is " + sha256 + ", the message's " + d->rec.sha256);
  }
  d->st = St::Finalizing;
  d->job = next_job_++;
  finalizes_.push_back(FinalizeJob{d->job, partial_path(d->rec.dest), d->rec.dest, true});
}

bool DownloadManager::poll_finalize(FinalizeJob& out) {
  if (finalizes_.empty()) return false;
  out = std::move(finalizes_.front());
  finalizes_.pop_front();
  return true;
}

void DownloadManager::on_finalized(uint64_t job, bool ok, const std::string& detail, uint64_t now) {
  (void)now;
  Download* d = by_job(job);
  if (!d || d->st != St::Finalizing) return;
  d->job = 0;
  if (!ok) return fail(*d, FERRY_EIO, detail);
  store_->download_remove(d->rec.message_id);
  emit_status(*d, FERRY_DOWNLOAD_DONE, FERRY_OK, "", d->rec.size);
  downloads_.erase(d->rec.message_id);
}

// --- Endings ------------------------------------------------------------------------------------

// Another client on this state directory (a `ferry listen` and a `ferry download`, say) may
// have finished or cancelled the download meanwhile: then its record is gone, and this
// client drops it without touching the files (they are the other client's).
bool DownloadManager::still_pending(Download& d) {
  PendingDownload stored;
  if (store_->download_get(d.rec.message_id, stored)) return true;
  emit_status(d, FERRY_DOWNLOAD_CANCELLED, FERRY_ENOTFOUND,
              "no longer pending in the state directory: finished or cancelled by another "
              "client",
              d.have);
  downloads_.erase(d.rec.message_id);
  return false;
}

void DownloadManager::wait_retry(Download& d, int err, const std::string& detail, uint64_t now) {
  d.st = St::Waiting;
  d.retry_at = now + d.backoff->next_delay_ms();
  emit_status(d, FERRY_DOWNLOAD_RETRYING, err, detail, d.have);
}

void DownloadManager::stop_io(Download& d) {
  if (d.st == St::Fetching && d.job) aborts_.push_back(d.job);
  d.job = 0;
}

void DownloadManager::fail(Download& d, int err, const std::string& detail) {
  finish(d, FERRY_DOWNLOAD_FAILED, err, detail);
}

// FAILED or CANCELLED: the transfer stops, the partial file and the record go.
void DownloadManager::finish(Download& d, int state, int err, const std::string& detail) {
  stop_io(d);
  finalizes_.push_back(FinalizeJob{0, partial_path(d.rec.dest), d.rec.dest, false});
  store_->download_remove(d.rec.message_id);
  emit_status(d, state, err, detail, d.have);
  downloads_.erase(d.rec.message_id);
}

// --- Time and events ----------------------------------------------------------------------------

std::optional<uint64_t> DownloadManager::poll_timeout() const {
  std::optional<uint64_t> t;
  auto consider = [&t](uint64_t at) { t = t ? std::min(*t, at) : at; };
  for (const auto& [id, d] : downloads_) {
    if (d.st == St::Waiting) consider(d.retry_at);
  }
  for (const UrlRequest& r : url_requests_) consider(r.deadline);
  return t;
}

void DownloadManager::handle_timeout(uint64_t now) {
  for (auto& [id, d] : downloads_) {
    if (d.st != St::Waiting || now < d.retry_at) continue;
    if (d.have_url)
      make_ready(d);
    else
      d.st = St::NeedUrl;
  }
  for (auto it = url_requests_.begin(); it != url_requests_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    Event e;
    e.type = FERRY_EVENT_DOWNLOAD_URL;
    e.status = online_ ? FERRY_ETIMEDOUT : FERRY_ENOTCONN;
    e.detail = online_ ? "request waited too long to be sent" : "no connection to the server";
    e.request_id = it->request_id;
    e.message.id = it->message_id;
    events_.push_back(std::move(e));
    it = url_requests_.erase(it);
  }
}

void DownloadManager::emit_status(const Download& d, int state, int err, const std::string& detail,
                                  uint64_t done) {
  Event e;
  e.type = FERRY_EVENT_DOWNLOAD_STATUS;
  e.status = err;
  e.detail = detail;
  e.message.id = d.rec.message_id;
  e.download_state = state;
  e.done = done;
  e.total = d.rec.size;
  e.path = d.rec.dest;
  events_.push_back(std::move(e));
}

// At most every progress_interval_ms or 1% of the file, plus the first of each fetch (the
// resume point) and the last.
void DownloadManager::emit_progress(Download& d, uint64_t done, uint64_t now) {
  uint64_t step = std::max<uint64_t>(1, d.rec.size / 100);
  bool first = !d.progress_emitted;
  bool moved = done != d.progress_done;
  bool final = done == d.rec.size && moved;
  bool due = first || final ||
             (moved && (now >= d.progress_ms + config_.progress_interval_ms ||
                        done >= d.progress_done + step));
  if (!due) return;
  d.progress_emitted = true;
  d.progress_ms = now;
  d.progress_done = done;
  Event e;
  e.type = FERRY_EVENT_DOWNLOAD_PROGRESS;
  e.message.id = d.rec.message_id;
  e.download_state = FERRY_DOWNLOAD_FETCHING;
  e.done = done;
  e.total = d.rec.size;
  e.path = d.rec.dest;
  events_.push_back(std::move(e));
}

bool DownloadManager::poll_event(Event& out) {
  if (events_.empty()) return false;
  out = std::move(events_.front());
  events_.pop_front();
  return true;
}

}  // namespace ferry::sdk
