// ResdCore, connection level: lifecycle, frame reading, HELLO, connection errors, output
// buffering, back-pressure and the idle timeout. Upload semantics live in uploads.cpp.
#include <algorithm>

#include "proto/json.h"
#include "servers/common/core/hello.h"
#include "servers/resource/core/resd_core.h"

namespace ferry::resource {

using proto::FrameType;

namespace {
// Direct reads only pay off for a big missing part; below this a read into the adapter's
// shared buffer costs one small copy and may pick up the next frames in the same syscall.
constexpr size_t kDirectReadMinBytes = 64 * 1024;
constexpr size_t kDirectReadMaxBytes = 256 * 1024;
}  // namespace

const char* job_kind_name(JobKind kind) {
  switch (kind) {
    case JobKind::Create:
      return "create";
    case JobKind::Chunk:
      return "chunk";
    case JobKind::Persist:
      return "persist";
    case JobKind::Bind:
      return "bind";
    case JobKind::Verify:
      return "verify";
    case JobKind::Finalize:
      return "finalize";
    case JobKind::Delete:
      return "delete";
    case JobKind::Unnotify:
      return "unnotify";
    case JobKind::Discard:
      return "discard";
    case JobKind::Flush:
      return "flush";
  }
  return "unknown";
}

ResdCore::ResdCore(ResdConfig config) : config_(std::move(config)), link_(config_.link) {
  if (config_.link.key.empty()) config_.link.key = config_.key;
  link_ = ChatLink(config_.link);
}

ResdCore::~ResdCore() = default;

ResdCore::Conn* ResdCore::find(ConnId id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void ResdCore::log(std::string line) { logs_.push_back(std::move(line)); }

void ResdCore::on_open(ConnId conn, int64_t now_ms) {
  auto c = std::make_unique<Conn>();
  c->id = conn;
  c->last_rx_ms = now_ms;
  Conn& ref = *c;
  conns_[conn] = std::move(c);
  idle_deadline_ms_ = std::min(idle_deadline_ms_, now_ms + config_.idle_timeout_ms);
  if (shutting_down_) fatal(ref, "shutting_down", "the server is stopping; reconnect later");
}

void ResdCore::on_bytes(ConnId conn, const char* data, size_t len, int64_t now_ms) {
  Conn* c = find(conn);
  if (!c || c->closing) return;  // after a fatal error the stream is no longer read
  c->last_rx_ms = now_ms;
  process(*c, data, len, now_ms);
}

char* ResdCore::read_window(ConnId conn, size_t& len) {
  Conn* c = find(conn);
  if (!c || c->closing) return nullptr;
  char* w = c->reader.direct_window(kDirectReadMinBytes, len);
  // At most a cache-sized read at a time: the reader sums each piece right after the kernel
  // copied it in (frame_reader.h). A whole 4 MiB read left the sum running from memory.
  if (w) len = std::min(len, kDirectReadMaxBytes);
  return w;
}

void ResdCore::on_read_direct(ConnId conn, size_t n, int64_t now_ms) {
  Conn* c = find(conn);
  if (!c || c->closing) return;
  c->last_rx_ms = now_ms;
  if (c->reader.commit_direct(n) == FrameReader::Status::Ready) handle_ready_frame(*c, now_ms);
}

void ResdCore::process(Conn& c, const char* data, size_t len, int64_t now_ms) {
  while (len > 0 && !c.closing) {
    FrameReader::Status st;
    size_t used = c.reader.feed(data, len, st);
    data += used;
    len -= used;
    switch (st) {
      case FrameReader::Status::NeedMore:
        break;
      case FrameReader::Status::Ready:
        handle_ready_frame(c, now_ms);
        break;
      case FrameReader::Status::TooLarge:
        return fatal(c, "frame_too_large", c.reader.error());
      case FrameReader::Status::BadType:
        return fatal(c, "bad_frame_type", c.reader.error());
    }
  }
}

bool ResdCore::handle_ready_frame(Conn& c, int64_t now_ms) {
  on_frame(c, c.reader.type(), now_ms);
  return !c.closing;
}

void ResdCore::on_frame(Conn& c, FrameType type, int64_t now_ms) {
  if (c.state == ConnState::Connected) {
    if (type != FrameType::Hello)
      return fatal(c, "hello_required", "the first frame must be HELLO");
    return on_hello(c, c.reader.body());
  }
  switch (type) {
    case FrameType::UploadOpen:
      return on_upload_open(c, c.reader.body(), now_ms);
    case FrameType::Chunk:
      return on_chunk(c, now_ms);
    case FrameType::Ping:
      return send_frame(c, FrameType::Pong, c.reader.body());
    case FrameType::Pong:
    case FrameType::Error:
      return;  // an answer to nothing we asked, or a client reporting trouble: harmless
    default:
      return fatal(c, "unexpected_frame",
                   std::string("the resource server does not accept ") +
                       proto::frame_type_name(type) + " frames");
  }
}

void ResdCore::on_hello(Conn& c, std::string_view body) {
  server::HelloProblem problem;
  if (!server::hello_check(body, problem)) return fatal(c, problem.code, problem.message);
  c.state = ConnState::Greeted;
  c.reader.set_max_body(kMaxFrameBody);
  // No challenge: clients never authenticate as peers here (the link goes the other way).
  server::HelloReply h;
  h.server = "ferry-resd/0.1.0";
  h.max_frame = kMaxFrameBody;
  h.heartbeat_ms = config_.heartbeat_ms;
  h.idle_timeout_ms = config_.idle_timeout_ms;
  send_frame(c, FrameType::Hello, server::hello_reply_body(h));
}

void ResdCore::mark_dirty(Conn& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(c.id);
}

void ResdCore::send_frame(Conn& c, FrameType type, std::string_view body) {
  proto::encode_frame(c.out, type, body);
  mark_dirty(c);
}

void ResdCore::send_error(Conn& c, const char* code, const std::string& message, bool fatal) {
  send_frame(c, FrameType::Error, server::error_body(code, message, fatal));
}

void ResdCore::fatal(Conn& c, const char* code, const std::string& message) {
  if (c.closing) return;
  send_error(c, code, message, true);
  c.closing = true;
  closing_.push_back(c.id);
}

void ResdCore::on_close(ConnId conn) {
  Conn* c = find(conn);
  if (!c) return;
  // Its uploads live on without this lane: jobs in flight finish, acks for it are dropped,
  // and the client's next OPEN (on any connection) picks them up from what is durable.
  for (const auto& [slot, message_id] : c->slots) {
    auto it = uploads_.find(message_id);
    if (it == uploads_.end()) continue;
    std::erase_if(it->second.lanes, [&](const Lane& l) { return l.conn == conn; });
  }
  for (auto& [id, u] : uploads_) {
    std::erase_if(u.waiters, [&](const Lane& w) { return w.conn == conn; });
  }
  conns_.erase(conn);
}

bool ResdCore::wants_read(ConnId conn) const {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return false;
  return it->second->closing || (it->second->queued_bytes < config_.max_queued_bytes &&
                                  queued_total_ < config_.max_total_queued_bytes);
}

void ResdCore::shutdown(int64_t now_ms) {
  (void)now_ms;
  shutting_down_ = true;
  for (auto& [id, c] : conns_)
    fatal(*c, "shutting_down", "the server is stopping; reconnect later");
}

bool ResdCore::poll_send(ConnId& conn, std::string& bytes) {
  return server::outbox_poll_send(
      dirty_, dirty_pos_, [this](ConnId id) { return find(id); }, conn, bytes);
}

bool ResdCore::poll_close(ConnId& conn) {
  return server::outbox_poll_close(
      closing_, [this](ConnId id) { return find(id); }, conn);
}

bool ResdCore::poll_log(std::string& line) {
  if (logs_.empty()) return false;
  line = std::move(logs_.front());
  logs_.pop_front();
  return true;
}

bool ResdCore::poll_job(Job& job) {
  if (jobs_.empty()) return false;
  job = std::move(jobs_.front());
  jobs_.pop_front();
  return true;
}

// Idle connections: the deadline is kept lazily, never later than the true earliest one. A
// connection with chunks at the workers counts as alive: the server, not the client, is the
// one keeping it silent (it stopped reading).
void ResdCore::handle_timeout(int64_t now_ms) {
  if (now_ms >= idle_deadline_ms_) {
    int64_t next = kNoTimeout;
    for (auto& [id, c] : conns_) {
      if (c->closing) continue;
      // Silent because the server stopped reading (its own or the global bound): alive.
      if (c->queued_bytes > 0 || queued_total_ >= config_.max_total_queued_bytes) {
        c->last_rx_ms = now_ms;
      }
      int64_t deadline = c->last_rx_ms + config_.idle_timeout_ms;
      if (now_ms >= deadline) {
        fatal(*c, "idle_timeout",
              "nothing received for " + std::to_string(config_.idle_timeout_ms) + " ms");
      } else {
        next = std::min(next, deadline);
      }
    }
    idle_deadline_ms_ = next;
  }
  if (config_.link_enabled) {
    link_.handle_timeout(now_ms);
    drain_link(now_ms);
  }
  if (now_ms >= next_sweep_ms_ || now_ms >= next_retry_ms_) sweep(now_ms);
}

int64_t ResdCore::poll_timeout() const {
  int64_t t = std::min({idle_deadline_ms_, next_sweep_ms_, next_retry_ms_});
  if (config_.link_enabled && !shutting_down_) t = std::min(t, link_.poll_timeout());
  return t;
}

bool ResdCore::link_connect_due(int64_t now_ms) const {
  return config_.link_enabled && !shutting_down_ && link_.connect_due(now_ms);
}

void ResdCore::link_on_bytes(const char* data, size_t len, int64_t now_ms) {
  link_.on_bytes(data, len, now_ms);
  drain_link(now_ms);
}

}  // namespace ferry::resource
