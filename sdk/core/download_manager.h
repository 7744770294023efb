// DownloadManager: the lifecycle of this client's downloads (ferry_download), sans-I/O.
//
// Per download:  NeedUrl -> AskingUrl (download_url on the chat connection) -> Ready (a
//   signed URL in hand) -> Fetching (the adapter's HTTP GET, resuming from the partial file)
//   -> Verifying (whole-file SHA-256, off the loop) -> Finalizing (fsync + rename) -> DONE.
// Side paths: a transfer error or a 5xx -> Waiting (backoff) -> Ready, resuming from the
// bytes on disk; 401/403 -> NeedUrl (a fresh ticket; after max_url_refresh in a row,
// FAILED); 404 / not_ready / unknown_message -> FAILED (partial deleted); no_resource_server
// -> Waiting; a hash mismatch -> FAILED (partial deleted); pause -> Paused (the transfer is
// aborted, the partial kept); cancel -> CANCELLED (partial deleted).
//
// The HTTP details (ranges, what a status means) are download_plan.h's pure functions, which
// the adapter applies while the transfer runs; this class sees only their outcome. Every job
// carries an id: results for a job the manager no longer waits for (paused, cancelled,
// superseded) are ignored, so the adapter never needs to synchronise with it.
//
// How to drive it (loop thread only; ClientCore owns it and routes the chat side):
//   chat side   next_chat_request / on_chat_response / on_chat_online / on_chat_offline
//   I/O side    poll_abort (first), poll_fetch -> on_fetch_started / on_fetch_progress /
//               on_fetch_done; poll_verify -> on_verified; poll_finalize -> on_finalized
//   time        poll_timeout / handle_timeout;  events: poll_event
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "sdk/core/backoff.h"
#include "sdk/core/download_store.h"
#include "sdk/core/types.h"

struct cJSON;

namespace ferry::sdk {

struct DownloadManagerConfig {
  uint32_t retry_min_ms = 200;  // backoff between attempts after a transient failure
  uint32_t retry_max_ms = 10000;
  uint64_t progress_interval_ms = 100;  // progress events: at most this often, or 1%
  uint64_t url_wait_ms = 30000;         // ferry_download_url waits this long for a connection
  uint32_t max_url_refresh = 3;  // 401/403 answers in a row (each with a fresh URL) to give up
};

// Fetch `url` into `partial` (adapter): plan_resume() from the partial's size, then the GET,
// with plan_response() on the answer.
struct FetchJob {
  uint64_t job = 0;
  uint64_t message_id = 0;
  std::string url, partial;
  uint64_t size = 0;
  std::string sha256;
};
struct FetchOutcome {
  enum class Kind { Complete, Retry, RefreshUrl, Fail };
  Kind kind = Kind::Retry;
  int err = 0;
  std::string detail;
  // The whole file's SHA-256 when the adapter hashed every byte as it wrote them from 0;
  // empty after a resume (the verifier then hashes the file from disk).
  std::string sha256;
};
// Hash the partial (unless `sha256` is already known) and fsync it, off the loop.
struct VerifyJob {
  uint64_t job = 0;
  std::string partial;
  std::string sha256;
};
// commit: rename partial -> dest and fsync the directory; else delete the partial.
struct FinalizeJob {
  uint64_t job = 0;  // 0: nobody waits for the result
  std::string partial, dest;
  bool commit = false;
};

class DownloadManager {
 public:
  // `store` may be null (a StateStore that does not keep downloads): an in-memory table is
  // used then. It must outlive the manager.
  DownloadManager(DownloadManagerConfig config, DownloadStore* store, RandomSource random);
  ~DownloadManager();

  // Takes the pending downloads from the store (app restart); they start once online.
  void load();
  DownloadStore& store() { return *store_; }

  // --- App side (the record is already in the store) ---------------------------------------
  void submit(const PendingDownload& d, uint64_t now);
  bool pause(uint64_t message_id, uint64_t now);
  bool resume(uint64_t message_id, uint64_t now);
  bool cancel(uint64_t message_id, uint64_t now);
  void request_url(uint64_t request_id, uint64_t message_id, uint32_t ttl_s, uint64_t now);
  // Logout / another user: every download ends FAILED with err (partials deleted).
  void drop_all(int err, const std::string& detail);

  // --- Chat side -----------------------------------------------------------------------------
  bool next_chat_request(uint64_t rid, std::string& body);
  void on_chat_response(uint64_t rid, bool ok, const cJSON* body, int err, const std::string& code,
                        const std::string& msg, uint64_t now);
  void on_chat_online(uint64_t now);
  void on_chat_offline(uint64_t now);

  // --- I/O side ------------------------------------------------------------------------------
  bool poll_abort(uint64_t& job);
  bool poll_fetch(FetchJob& out);
  void on_fetch_started(uint64_t job, uint64_t offset, uint64_t now);
  void on_fetch_progress(uint64_t job, uint64_t have, uint64_t now);
  void on_fetch_done(uint64_t job, const FetchOutcome& outcome, uint64_t now);
  bool poll_verify(VerifyJob& out);
  void on_verified(uint64_t job, bool io_ok, const std::string& sha256, const std::string& detail,
                   uint64_t now);
  bool poll_finalize(FinalizeJob& out);
  void on_finalized(uint64_t job, bool ok, const std::string& detail, uint64_t now);

  // --- Time and events -----------------------------------------------------------------------
  std::optional<uint64_t> poll_timeout() const;
  void handle_timeout(uint64_t now);
  bool poll_event(Event& out);

  bool pending(uint64_t message_id) const { return downloads_.count(message_id) != 0; }

 private:
  enum class St { NeedUrl, AskingUrl, Ready, Fetching, Waiting, Verifying, Finalizing, Paused };
  struct Download {
    PendingDownload rec;
    St st = St::NeedUrl;
    DownloadUrl url;
    bool have_url = false;
    uint64_t job = 0;  // the fetch/verify/finalize being waited for
    uint64_t retry_at = 0;
    uint64_t fetch_from = 0;  // where the current fetch started
    uint64_t have = 0;        // bytes on disk, as last reported
    uint32_t refreshes = 0;   // 401/403 in a row
    std::unique_ptr<Backoff> backoff;
    bool progress_emitted = false;
    uint64_t progress_ms = 0;
    uint64_t progress_done = 0;
  };
  struct UrlRequest {  // the app's ferry_download_url
    uint64_t request_id = 0;
    uint64_t message_id = 0;
    uint32_t ttl_s = 0;
    uint64_t deadline = 0;
  };
  struct InFlight {
    bool app = false;  // an app UrlRequest, else a download's grant
    UrlRequest req;
    uint64_t message_id = 0;
  };

  Download* find(uint64_t message_id);
  Download* by_job(uint64_t job);
  void add(const PendingDownload& rec);
  void on_grant(Download& d, bool ok, const cJSON* body, int err, const std::string& code,
                const std::string& msg, uint64_t now);
  void on_app_url(const UrlRequest& r, bool ok, const cJSON* body, int err, const std::string& msg);
  void make_ready(Download& d);
  bool still_pending(Download& d);  // false: erased (d is gone)
  void wait_retry(Download& d, int err, const std::string& detail, uint64_t now);
  void fail(Download& d, int err, const std::string& detail);
  void finish(Download& d, int state, int err, const std::string& detail);
  void stop_io(Download& d);
  void emit_status(const Download& d, int state, int err, const std::string& detail, uint64_t done);
  void emit_progress(Download& d, uint64_t done, uint64_t now);

  DownloadManagerConfig config_;
  std::unique_ptr<DownloadStore> own_store_;  // when the app's store keeps no downloads
  DownloadStore* store_;
  RandomSource random_;
  bool online_ = false;
  uint64_t next_job_ = 1;
  std::map<uint64_t, Download> downloads_;  // by message id
  std::deque<UrlRequest> url_requests_;
  std::unordered_map<uint64_t, InFlight> in_flight_;  // by chat rid
  std::deque<uint64_t> aborts_;
  std::deque<uint64_t> fetches_;  // message ids in Ready
  std::deque<VerifyJob> verifies_;
  std::deque<FinalizeJob> finalizes_;
  std::deque<Event> events_;
};

}  // namespace ferry::sdk
