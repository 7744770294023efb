// UvLink: one outgoing TCP connection on a libuv loop, used for both the chat connection and
// the resource-server connection. Glue only: it resolves, connects, moves bytes and reports;
// the cores decide everything.
//
// Checklist
//   [x] getaddrinfo + TCP connect, TCP_NODELAY
//   [x] a lost SYN raced: no connection after kRaceAfterMs, a second attempt to the same
//       address; the first to connect is kept, the other closed
//   [x] reads handed to a hook as they arrive (one 64 KiB buffer per link)
//   [x] writes of an owned string, and of borrowed buffers (zero copy) with a completion
//   [x] file bytes with sendfile(2) (zero copy, no user-space copy at all), in order with the
//       writes around them: a pool job per call on a dup() of the socket, uv_poll on the dup
//       for room (the socket itself is libuv's), writes queued behind it meanwhile
//   [x] a bound on the bytes the kernel holds unsent (TCP_NOTSENT_LOWAT), so a write ends
//       only once the socket has sent all but that much
//   [x] graceful shutdown (flush, FIN) and hard close; hooks never run after close()
//   [ ] TLS (issue: transport security is not in the foundation issue)
//
// Lifetime: dial() returns a link owned by the caller until close(); after close() the link
// frees itself once libuv is done with it, so the caller must forget the pointer.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::sdk {

struct LinkHooks {
  // Connect finished: status 0, or a FERRY_E* code with a sentence.
  std::function<void(int status, const std::string& detail)> on_connect;
  std::function<void(const char* data, size_t len)> on_read;
  // The connected link failed or the peer closed it (FERRY_ENOTCONN / FERRY_EIO).
  std::function<void(int err, const std::string& detail)> on_lost;
};

class UvLink {
 public:
  // Starts resolving and connecting. Null (and `err`, `detail` set) if it cannot even start.
  static UvLink* dial(uv_loop_t* loop, const std::string& host, const std::string& port,
                      LinkHooks hooks, int& err, std::string& detail);
  UvLink(const UvLink&) = delete;
  UvLink& operator=(const UvLink&) = delete;

  // A connect not completed this long after it started gets a second attempt beside it (RFC
  // 8305's connection attempt delay): a lost SYN or SYN-ACK otherwise costs TCP's initial
  // retransmission timeout, 1 s, on the connection every later byte waits for. Through 40 ms
  // and 1% loss, 2 of 60 `ferry send-file` runs lost one, and none with the race
  // (docs/benchmarks.md, session 17). A path slower than this only costs a connection attempt
  // that is closed unused.
  static constexpr uint64_t kRaceAfterMs = 250;

  bool connected() const { return connected_; }
  // The kernel's smoothed round trip of the connection (TCP_INFO), in microseconds; right
  // after connecting that is the handshake's. 0 when unknown.
  uint64_t tcp_rtt_us() const;
  // Lets the kernel hold at most about `bytes` not yet sent in the socket (TCP_NOTSENT_LOWAT):
  // a write or file send then completes only once the connection has sent all but that much
  // of it, so the caller feeds the next bytes as the network takes them, not as far ahead
  // as the socket buffer reaches. `bytes` 0 gives the system's default back. 0, or a libuv
  // error (not connected: UV_ENOTCONN).
  int set_unsent_limit(uint32_t bytes);
  // The peer's IP address as text ("198.18.0.1", "::1"); "" when unknown.
  std::string peer_ip() const;
  // Queues bytes (ignored when not connected; a failure is reported through on_lost).
  void write(std::string data);
  // The same for bytes the caller keeps: copied only if the socket does not take them all now.
  void write_copy(std::string_view data);
  // Queues borrowed buffers as one write. 0: `done(status)` runs exactly once when libuv is
  // finished with them (also on close). Nonzero: not queued, `done` never runs.
  int write_parts(const uv_buf_t* bufs, unsigned n, std::function<void(int status)> done);
  // Sends `len` bytes of the open file `fd` from `offset` with sendfile(2): after every byte
  // queued before, before every byte queued after. 0: `done(status)` runs exactly once, when
  // they are all in the socket or the link failed or closed; the caller keeps `fd` open
  // until then. A file that ends before offset + len fails the link (a frame cannot be left
  // half sent). Nonzero: not queued, `done` never runs.
  int send_file(int fd, uint64_t offset, uint64_t len, std::function<void(int status)> done);
  // Readies the link for send_file (a dup of the socket and its poll handle): call it before
  // queueing whatever precedes a file send, so that send_file itself cannot fail and leave a
  // frame's prefix on the wire without its bytes. 0 or a libuv error.
  int prepare_file_sends();
  // Sends FIN after queued writes, then runs `done` (the link is not closed by it; after
  // close() `done` never runs).
  bool shutdown(std::function<void()> done);
  void close();

 private:
  UvLink(uv_loop_t* loop, LinkHooks hooks);
  ~UvLink();
  static void resolve_callback(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  static void connect_callback(uv_connect_t* req, int status);
  static void alloc_callback(uv_handle_t* h, size_t hint, uv_buf_t* buf);
  static void read_callback(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void write_callback(uv_write_t* req, int status);
  struct WriteReq;
  int start_write(std::unique_ptr<WriteReq>& w, const uv_buf_t* bufs, unsigned n);
  void queue_write(std::string data);  // uv_write of what uv_try_write left
  size_t try_write_now(std::string_view data, size_t& from);
  static void shutdown_callback(uv_shutdown_t* req, int status);
  static void close_callback(uv_handle_t* h);
  void lost(int uv_status);
  // The connect race (kRaceAfterMs).
  struct Racer;
  static void race_callback(uv_timer_t* t);
  static void racer_connected(uv_connect_t* req, int status);
  static void swap_closed(uv_handle_t* h);
  void adopt(Racer* r);
  void drop_racer();
  void on_connected();
  // tcp_ is closing to take the racer's socket (adopt_fd_).
  bool swapping() const { return adopt_fd_ >= 0; }
  // File sends: writes wait in held_ while one is queued or running.
  struct Held;
  struct FileSend;
  bool holding() const { return file_ != nullptr || !held_.empty(); }
  void drain();
  void start_file_job();
  static void file_work(uv_work_t* req);
  static void file_after(uv_work_t* req, int status);
  static void on_writable(uv_poll_t* h, int status, int events);
  void end_file(int status);
  void maybe_free();  // once libuv and the pool are done with everything

  uv_loop_t* loop_;
  LinkHooks hooks_;
  std::string where_;
  uv_getaddrinfo_t resolve_{};
  uv_tcp_t tcp_{};
  uv_connect_t connect_{};
  uv_shutdown_t shutdown_req_{};
  std::function<void()> shutdown_done_;
  bool tcp_open_ = false;
  bool connected_ = false;
  struct sockaddr_storage addr_ {};  // the resolved address, for the racer
  uv_timer_t race_timer_{};
  bool race_timer_open_ = false;
  Racer* racer_ = nullptr;  // the second attempt while it runs
  int adopt_fd_ = -1;  // the racer's socket while tcp_ closes to take it
  int pending_closes_ = 0;  // the timer's and racers' close callbacks still to come
  bool closed_ = false;  // close() called: no more hooks
  bool tcp_closed_ = false;  // its close callback ran
  std::deque<std::unique_ptr<Held>> held_;
  FileSend* file_ = nullptr;  // the file send in progress (a pool job, or waiting for room)
  unsigned uv_writes_ = 0;    // uv_write requests not completed yet
  unsigned jobs_ = 0;         // sendfile jobs on the pool
  int dup_fd_ = -1;           // a dup() of the socket for sendfile and uv_poll
  uv_poll_t poll_{};
  bool poll_open_ = false;
  char read_buf_[64 * 1024];
};

}  // namespace ferry::sdk
