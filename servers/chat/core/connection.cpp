// ChatCore, connection level: lifecycle, frame decoding, HELLO, connection errors, output
// buffering and the idle timeout. Request semantics live in request.cpp and its neighbours.
#include <algorithm>

#include "proto/hex.h"
#include "servers/chat/core/chat_core.h"
#include "servers/common/core/hello.h"

namespace ferry::chat {

using proto::FrameType;

ChatCore::ChatCore(ChatStore& store, CoreConfig config)
    : store_(store), config_(std::move(config)) {}

ChatCore::~ChatCore() = default;

ChatCore::Conn* ChatCore::find(ConnId id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void ChatCore::on_open(ConnId conn, int64_t now_ms) {
  now_ms_ = now_ms;
  auto c = std::make_unique<Conn>();
  c->id = conn;
  c->decoder.set_max_body(config_.max_frame);
  c->last_rx_ms = now_ms;
  Conn& ref = *c;
  conns_[conn] = std::move(c);
  next_deadline_ms_ = std::min(next_deadline_ms_, now_ms + config_.idle_timeout_ms);
  if (shutting_down_) fatal(ref, "shutting_down", "the server is stopping; reconnect later");
}

void ChatCore::on_bytes(ConnId conn, const char* data, size_t len, int64_t now_ms) {
  now_ms_ = now_ms;
  Conn* c = find(conn);
  if (!c || c->closing) return;  // after a fatal error the stream is no longer read
  c->last_rx_ms = now_ms;        // any byte counts as life, even half a frame
  c->decoder.feed(data, len);
  process_input(*c, now_ms);
}

void ChatCore::on_close(ConnId conn) {
  Conn* c = find(conn);
  if (!c) return;
  route_remove(*c);
  // A pending hash job or batched send keeps running; its answer is dropped when it finds
  // the connection gone (a send is still committed: the client will retry with the same cid).
  conns_.erase(conn);
  // dirty_ and closing_ may still name it; the poll functions skip unknown ids.
}

void ChatCore::on_slow_consumer(ConnId conn) {
  Conn* c = find(conn);
  if (!c || c->closing) return;
  fatal(*c, "slow_consumer", "your outbound queue passed the server's bound; reconnect and sync");
}

// Decodes and handles buffered frames until the decoder needs more bytes, the connection
// fails, or a password hash pauses it.
void ChatCore::process_input(Conn& c, int64_t now_ms) {
  proto::Frame f;
  while (!c.closing && c.hash_job == 0) {
    proto::DecodeStatus st = c.decoder.next(f);
    if (st == proto::DecodeStatus::NeedMore) return;
    if (st == proto::DecodeStatus::TooLarge) return fatal(c, "frame_too_large", c.decoder.error());
    if (st == proto::DecodeStatus::BadType) return fatal(c, "bad_frame_type", c.decoder.error());
    on_frame(c, f, now_ms);
  }
}

void ChatCore::on_frame(Conn& c, const proto::Frame& f, int64_t now_ms) {
  if (c.state == State::Connected) {
    if (f.type != FrameType::Hello) {
      return fatal(c, "hello_required", "the first frame must be HELLO");
    }
    return on_hello(c, f.body);
  }
  switch (f.type) {
    case FrameType::Request:
      return on_request(c, f.body, now_ms);
    case FrameType::Ping:
      return send_frame(c, FrameType::Pong, f.body);
    case FrameType::Pong:
      return;  // an answer to nothing we asked; harmless
    case FrameType::Error:
      // A client reporting trouble; if it was fatal the client closes. Nothing to answer.
      return;
    default:
      return fatal(c, "unexpected_frame",
                   std::string("the server does not accept ") + proto::frame_type_name(f.type) +
                       " frames here");
  }
}

void ChatCore::on_hello(Conn& c, std::string_view body) {
  server::HelloProblem problem;
  if (!server::hello_check(body, problem)) return fatal(c, problem.code, problem.message);
  c.state = State::Greeted;
  server::HelloReply h;
  h.server = "ferry-chatd/0.1.0";
  h.max_frame = config_.max_frame;
  h.heartbeat_ms = config_.heartbeat_ms;
  h.idle_timeout_ms = config_.idle_timeout_ms;
  // Fresh per connection, so a peer_auth MAC seen on one connection is useless on another.
  c.challenge = proto::hex_encode(random(32));
  h.challenge = c.challenge;
  send_frame(c, FrameType::Hello, server::hello_reply_body(h));
}

void ChatCore::send_frame(Conn& c, FrameType type, std::string_view body) {
  proto::encode_frame(c.out, type, body);
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(c.id);
  }
}

void ChatCore::send_error(Conn& c, const char* code, const std::string& message, bool fatal) {
  send_frame(c, FrameType::Error, server::error_body(code, message, fatal));
}

// Sends a fatal ERROR and schedules the close. The connection leaves routing at once so no
// push lands behind the ERROR frame.
void ChatCore::fatal(Conn& c, const char* code, const std::string& message) {
  if (c.closing) return;
  send_error(c, code, message, true);
  c.closing = true;
  route_remove(c);
  closing_.push_back(c.id);
}

// Every failed request counts; a connection that only produces errors is cut off.
void ChatCore::count_error(Conn& c) {
  if (++c.error_streak >= config_.error_streak_max) {
    fatal(c, "too_many_errors",
          std::to_string(c.error_streak) + " request errors in a row; fix the client");
  }
}

void ChatCore::route_add(Conn& c) { routes_[c.user_id].push_back(c.id); }

void ChatCore::route_remove(Conn& c) {
  if (c.state == State::Peer) {
    // The advertised address stays: see peer.cpp for why.
    peers_.erase(std::remove(peers_.begin(), peers_.end(), c.id), peers_.end());
    return;
  }
  if (c.state != State::Authenticated) return;
  auto it = routes_.find(c.user_id);
  if (it == routes_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), c.id), v.end());
  if (v.empty()) routes_.erase(it);
}

// The deadline is kept lazily: next_deadline_ms_ is never later than the true earliest
// deadline (input only pushes deadlines back), so an early wake-up rescans and recomputes
// it. That is O(connections) once per idle period instead of a heap update per frame.
void ChatCore::handle_timeout(int64_t now_ms) {
  now_ms_ = now_ms;
  if (now_ms < next_deadline_ms_) return;
  int64_t next = kNoTimeout;
  for (auto& [id, c] : conns_) {
    if (c->closing) continue;
    int64_t deadline = c->last_rx_ms + config_.idle_timeout_ms;
    if (now_ms >= deadline) {
      fatal(*c, "idle_timeout",
            "nothing received for " + std::to_string(config_.idle_timeout_ms) + " ms");
    } else {
      next = std::min(next, deadline);
    }
  }
  next_deadline_ms_ = next;
}

void ChatCore::shutdown(int64_t now_ms) {
  now_ms_ = now_ms;
  flush(now_ms);
  shutting_down_ = true;
  for (auto& [id, c] : conns_)
    fatal(*c, "shutting_down", "the server is stopping; reconnect later");
}

bool ChatCore::poll_send(ConnId& conn, std::string& bytes) {
  return server::outbox_poll_send(
      dirty_, dirty_pos_, [this](ConnId id) { return find(id); }, conn, bytes);
}

bool ChatCore::poll_close(ConnId& conn) {
  return server::outbox_poll_close(
      closing_, [this](ConnId id) { return find(id); }, conn);
}

bool ChatCore::poll_hash_job(HashJob& job) {
  if (hash_queue_.empty()) return false;
  job = std::move(hash_queue_.front());
  hash_queue_.pop_front();
  return true;
}

}  // namespace ferry::chat
