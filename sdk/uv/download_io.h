// DownloadIo: the HTTP and file side of the DownloadManager, on the SDK's libuv loop. Glue
// only: where to start and what an answer means are download_plan.h's decisions.
//
// Checklist
//   [x] libcurl loaded with dlopen() and the multi handle made on the first fetch
//       (curl_api.h: ~17 ms less at every process start)
//   [x] libcurl multi interface driven by this loop (curl's multi-uv pattern):
//       CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket, CURLMOPT_TIMERFUNCTION -> one
//       uv_timer_t, both feeding curl_multi_socket_action(); finished transfers read with
//       curl_multi_info_read()
//   [x] partial file "<dest>.part": opened and flock()ed per fetch (two clients sharing a
//       state directory never write one file), resumed from its size with Range + If-Range
//   [x] the loop only receives: the body goes to a DownloadWriter (download_writer.h), a
//       thread per transfer that pwrite()s it in order and starts write-back every 8 MiB
//       (sync_file_range), and a second that SHA-256s it when the fetch started at byte 0
//       (after a resume the verifier re-reads the file, as before); at most 8 MiB
//       wait per transfer, beyond that the transfer pauses (CURL_WRITEFUNC_PAUSE) until the
//       writer has caught up (curl_easy_pause on its wake-up)
//   [x] a finished transfer is reported once the writer has written everything, so the
//       outcome (bytes on disk, hash, write errors) is the file's
//   [x] on a long path (the first answer's round trip, download_segments.h) the rest of the
//       file is split into ranged requests over several connections, each part written at
//       its offset by a writer of its own; the record <partial>.segs says what each part
//       holds (written before the first ranged request, rewritten every 250 ms, removed at
//       the end) and every later fetch resumes each part from it; a free connection helps
//       the part expected to finish last (steal)
//   [x] verification off the loop (uv_queue_work): re-hash from disk after a resume, fsync;
//       then rename into place and fsync the directory, also off the loop
//   [x] test hook: FERRY_DOWNLOAD_MAX_BPS=<bytes/s> caps every transfer
//       (CURLOPT_MAX_RECV_SPEED_LARGE) so tests can interrupt a download mid-way
//   [ ] HTTP/2, TLS options (the resource server speaks plain HTTP/1.1 for now)
//
// Owner: UvDriver. Every callback runs on the loop thread, feeds the manager, then asks the
// driver to step (poll the cores again).
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sdk/core/download_manager.h"
#include "sdk/uv/curl_api.h"
#include "sdk/core/download_segments.h"
#include "sdk/uv/download_writer.h"

namespace ferry::sdk {

class DownloadIo {
 public:
  DownloadIo(uv_loop_t* loop, DownloadManager& manager, std::string agent,
             std::function<void()> kick);
  ~DownloadIo();
  DownloadIo(const DownloadIo&) = delete;
  DownloadIo& operator=(const DownloadIo&) = delete;

  // Acts on everything the manager asks for. True when it fed the manager an outcome at
  // once (a fetch that needed no request, a file that could not be opened), so the caller
  // should poll the cores again.
  bool step(uint64_t now_ms);
  // Stop: abort every transfer and close the handles; work in progress finishes without
  // touching the manager. The loop must run afterwards until the handles are closed.
  void stop();

 private:
  struct Transfer;
  struct Fetch;
  struct Socket {
    uv_poll_t poll{};
    curl_socket_t fd = CURL_SOCKET_BAD;
    DownloadIo* io = nullptr;
  };
  struct FileWork;

  uint64_t now();
  bool ensure_multi(std::string& why);
  bool start_fetch(const FetchJob& job);
  bool finish_early(const FetchJob& job, int fd, FetchOutcome outcome, uint64_t offset);
  void start_transfer(Fetch& f, uint32_t seg, uint64_t from, uint64_t end,
                      const std::string& range, const std::string& if_range);
  void decide(Transfer& t);
  void try_split(Fetch& f);
  void on_transfer_done(Transfer& t, CURLcode rc);
  void complete(Transfer& t);
  void finish_split(Fetch& f);
  void end_fetch(Fetch& f, bool keep_record);
  void end_failed_starts();
  void note_done(Fetch& f, const Transfer& t);
  void save_segments(Fetch& f, bool durable);
  void note_all(Fetch& f);
  uint64_t held(Fetch& f);  // what the parts hold now (their records brought up to date)
  void after_socket_action();
  void report_progress(Fetch& f, bool force);
  FetchOutcome outcome_of(Transfer& t, CURLcode rc);
  void release(Transfer& t);
  void steal(Fetch& f);
  // A transfer as seen before a callback that may end it (or its whole fetch): still there?
  struct TransferRef {
    uint64_t job;
    Transfer* t;
    uint64_t serial;
  };
  std::vector<TransferRef> running() const;
  bool alive(const TransferRef& r) const;
  void abort(uint64_t job);
  void check_multi_info();
  void start_work(std::unique_ptr<FileWork> w);
  void close_socket(Socket* s);

  static int socket_cb(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int timer_cb(CURLM* multi, long timeout_ms, void* userp);
  static void on_poll(uv_poll_t* h, int status, int events);
  static void on_timer(uv_timer_t* h);
  static void on_wake(uv_async_t* h);
  static size_t header_cb(char* data, size_t size, size_t n, void* userp);
  static size_t write_cb(char* data, size_t size, size_t n, void* userp);
  static void file_work(uv_work_t* req);
  static void file_after(uv_work_t* req, int status);

  uv_loop_t* loop_;
  DownloadManager& manager_;
  std::string agent_;
  std::function<void()> kick_;
  const CurlApi* api_ = nullptr;  // libcurl, loaded on the first fetch (with multi_)
  CURLM* multi_ = nullptr;
  uv_timer_t timer_{};
  uv_async_t wake_{};  // the writers' "blocks written": resume, report, complete
  bool stopped_ = false;
  bool fed_ = false;          // the manager heard of progress since the last kick
  int64_t max_recv_bps_ = 0;  // FERRY_DOWNLOAD_MAX_BPS; 0 = unlimited
  SegmentPolicy segment_policy_;
  uint32_t forced_segments_ = 0;  // FERRY_DOWNLOAD_SEGMENTS; 0 = by the round trip
  std::unordered_map<uint64_t, std::unique_ptr<Fetch>> fetches_;  // by job
  std::vector<TransferRef> failed_starts_;  // curl_multi_add_handle refused them
  std::set<std::string> unsplittable_;      // partials whose ranged request got a 200
  uint64_t serials_ = 0;
  std::set<Socket*> sockets_;
};

}  // namespace ferry::sdk
