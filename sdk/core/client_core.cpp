// ClientCore, part 1: connection lifecycle, frame dispatch, heartbeats and timers.
// Requests live in client_requests.cpp, delivery and the outbox in client_delivery.cpp.
#include "sdk/core/client_core.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "proto/json.h"
#include "sdk/core/errors.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {

ClientCore::ClientCore(CoreConfig config, StateStore& store, RandomSource random)
    : config_(std::move(config)),
      store_(store),
      backoff_(config_.reconnect_min_ms, config_.reconnect_max_ms, random),
      decoder_(config_.max_frame_body),
      heartbeat_ms_(config_.heartbeat_ms),
      uploads_(
          [this] {
            UploadManagerConfig u = config_.uploads;
            u.agent = config_.agent;
            return u;
          }(),
          store, random),
      // The SQLite and memory stores keep downloads too; a store that does not (a test
      // fake) gets the manager's own in-memory table.
      downloads_(config_.downloads, dynamic_cast<DownloadStore*>(&store), std::move(random)) {
  session_ = store_.session();
  last_seen_ = stored_last_seen_ = store_.last_seen();
  for (OutboxEntry& e : store_.outbox()) {
    outbox_.push_back(OutboxItem{std::move(e), false});
    auto it = std::prev(outbox_.end());
    outbox_by_cid_[it->entry.cid] = it;
    if (it->entry.server_id != 0) acked_[it->entry.server_id] = it->entry.cid;
  }
  uploads_.set_user(session_.user);
  uploads_.set_resource_hint(store_.resource_hint(), 0);
  uploads_.load(0);
  downloads_.load();
}

void ClientCore::start(uint64_t now) {
  assert(!started_);
  started_ = true;
  begin_dial(now);
}

bool ClientCore::poll_connect() { return std::exchange(want_connect_, false); }
bool ClientCore::poll_close() { return std::exchange(want_close_, false); }
std::string ClientCore::poll_send() { return std::exchange(out_, std::string()); }

void ClientCore::clear_events() {
  // Kept for the next input unless a burst (a sync page) made it large.
  if (events_.capacity() > 256) {
    std::vector<Event>().swap(events_);
  } else {
    events_.clear();
  }
  events_head_ = 0;
}

bool ClientCore::poll_event(Event& out) {
  if (events_head_ == events_.size()) {
    clear_events();
    return uploads_.poll_event(out) || downloads_.poll_event(out);
  }
  out = std::move(events_[events_head_++]);
  if (events_head_ == events_.size()) clear_events();
  return true;
}

const Event* ClientCore::poll_event_ref() {
  if (events_head_ < events_.size()) return &events_[events_head_++];
  // Cleared only now: the last event returned stayed valid until this call.
  clear_events();
  if (uploads_.poll_event(polled_) || downloads_.poll_event(polled_)) return &polled_;
  return nullptr;
}

void ClientCore::set_public_state(int state, int status, const std::string& detail) {
  // OFFLINE and CONNECTING repeat on every attempt so the app sees each failure's reason.
  bool always = state == FERRY_CONN_OFFLINE || state == FERRY_CONN_CONNECTING;
  if (state == public_state_ && !always) return;
  public_state_ = state;
  Event e;
  e.type = FERRY_EVENT_CONNECTION;
  e.status = status;
  e.detail = detail;
  e.conn_state = state;
  emit(std::move(e));
}

void ClientCore::begin_dial(uint64_t now) {
  phase_ = Phase::Dialing;
  want_connect_ = true;
  dial_deadline_ = now + dead_after_ms();
  set_public_state(FERRY_CONN_CONNECTING, FERRY_OK, "");
}

void ClientCore::on_connected(uint64_t now) {
  if (phase_ != Phase::Dialing) return;  // the core gave up on this dial already
  phase_ = Phase::Greeting;
  decoder_ = proto::FrameDecoder(config_.max_frame_body);
  out_.clear();
  last_recv_ms_ = now;
  heartbeat_ms_ = config_.heartbeat_ms;
  send_frame(proto::FrameType::Hello, wire::hello_body(config_.agent), now);
  awaiting_hello_ = true;
  // The login (or the stored session's auth) rides in the same write: chatd answers HELLO
  // before it reads the next frame, so the answer to it comes one round trip sooner. With
  // nothing to authenticate with, the HELLO's answer decides as before.
  if (session_.held() || auth_request_waiting()) authenticate(now);
  pump_uploads(now);  // behind a stored session's auth (see pump_uploads)
}

void ClientCore::on_connect_failed(int err, const std::string& detail, uint64_t now) {
  if (phase_ != Phase::Dialing) return;
  go_offline(err, detail, now, false);
}

void ClientCore::on_disconnected(int err, const std::string& detail, uint64_t now) {
  if (phase_ == Phase::Offline) return;
  go_offline(err, detail, now, false);
}

void ClientCore::drop_connection(uint64_t now) {
  out_.clear();
  // Answers for requests on the dead connection will never come. Register/login are not
  // idempotent (a retried register would meet its own account), so they fail; a history page
  // is simply asked again; sends stay in the outbox and go out after the next sync.
  std::vector<std::pair<uint64_t, InFlight>> lost(in_flight_.begin(), in_flight_.end());
  in_flight_.clear();
  std::sort(lost.begin(), lost.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (auto& [rid, f] : lost) {
    if (f.kind == Kind::Register || f.kind == Kind::Login) {
      fail_request(f.request, FERRY_ENOTCONN, "connection lost before the server answered");
    } else if (f.kind == Kind::History) {
      pending_.push_front(f.request);  // descending rid + push_front keeps the original order
    }
  }
  for (OutboxItem& item : outbox_) item.in_flight = false;
  uploads_.on_chat_offline();
  downloads_.on_chat_offline(now);
  syncing_ = false;
  sync_buffer_.clear();
}

void ClientCore::go_offline(int err, const std::string& detail, uint64_t now, bool close_socket) {
  drop_connection(now);
  phase_ = Phase::Offline;
  awaiting_hello_ = false;
  want_close_ = close_socket;
  want_connect_ = false;
  reconnect_at_ = now + backoff_.next_delay_ms();
  set_public_state(FERRY_CONN_OFFLINE, err, detail);
}

void ClientCore::redial(uint64_t now) {
  drop_connection(now);
  want_close_ = true;
  begin_dial(now);
}

void ClientCore::protocol_failure(const std::string& detail, uint64_t now) {
  go_offline(FERRY_EPROTO, detail, now, true);
}

void ClientCore::on_bytes(const char* data, size_t len, uint64_t now) {
  if (phase_ == Phase::Offline || phase_ == Phase::Dialing) return;
  decoder_.feed(data, len);
  store_.batch_begin();
  while (phase_ != Phase::Offline) {
    proto::Frame f;
    proto::DecodeStatus st = decoder_.next(f);
    if (st == proto::DecodeStatus::NeedMore) break;
    if (st != proto::DecodeStatus::Ready) {
      protocol_failure("bad frame from server: " + decoder_.error(), now);
      break;
    }
    last_recv_ms_ = now;
    handle_frame(f, now);
  }
  // One write of the sync position per read, not per message.
  if (last_seen_ != stored_last_seen_) {
    store_.set_last_seen(last_seen_);
    stored_last_seen_ = last_seen_;
  }
  pump_uploads(now);
  pump_downloads(now);
  store_.batch_end();
}

void ClientCore::handle_frame(const proto::Frame& f, uint64_t now) {
  using proto::FrameType;
  if (awaiting_hello_ && f.type != FrameType::Hello && f.type != FrameType::Error) {
    return protocol_failure("expected HELLO from server", now);
  }
  switch (f.type) {
    case FrameType::Hello:
      if (!awaiting_hello_) return protocol_failure("second HELLO from server", now);
      return handle_hello(f.body, now);
    case FrameType::Response:
      return handle_response(f.body, now);
    case FrameType::Push:
      return handle_push(f.body, now);
    case FrameType::Error:
      return handle_error_frame(f.body, now);
    case FrameType::Ping:
      return send_frame(FrameType::Pong, f.body, now);
    case FrameType::Pong:
      return;  // receiving it already counted as life
    default:
      return protocol_failure(
          std::string("unexpected ") + proto::frame_type_name(f.type) + " frame from server", now);
  }
}

void ClientCore::handle_hello(std::string_view body, uint64_t now) {
  proto::Json j = proto::json_parse(body);
  wire::ServerHello hello;
  std::string err;
  if (!j || !wire::parse_hello(j.get(), hello, err)) {
    return protocol_failure("bad HELLO from server: " + (j ? err : "not JSON"), now);
  }
  if (hello.proto != proto::kProtocolVersion) {
    return go_offline(FERRY_EVERSION,
                      "server speaks protocol " + std::to_string(hello.proto) + ", client " +
                          std::to_string(proto::kProtocolVersion),
                      now, true);
  }
  // Ping at least as often as the server expects, or it would cut us off as idle.
  if (hello.heartbeat_ms > 0 && hello.heartbeat_ms < heartbeat_ms_) {
    heartbeat_ms_ = static_cast<uint32_t>(std::max<uint64_t>(hello.heartbeat_ms, 100));
  }
  backoff_.reset();
  awaiting_hello_ = false;
  if (phase_ != Phase::Greeting) return;  // the auth went out with our HELLO
  phase_ = Phase::Connected;
  authenticate(now);
}

void ClientCore::handle_error_frame(std::string_view body, uint64_t now) {
  proto::Json j = proto::json_parse(body);
  std::string code, message, err;
  bool fatal = true;  // an ERROR we cannot read is treated as the end of the stream
  if (!j || !proto::json_get_string(j.get(), "code", code, err)) {
    return protocol_failure("unreadable ERROR frame from server", now);
  }
  proto::json_opt_string(j.get(), "message", message, err);
  proto::json_opt_bool(j.get(), "fatal", fatal, err);
  // A non-fatal ERROR answers a request the server could not read (bad_json); it has no rid,
  // so there is nothing to complete. The connection stays usable.
  if (!fatal) return;
  std::string detail = "server: " + code + (message.empty() ? "" : " (" + message + ")");
  go_offline(error_from_protocol_code(code, false), detail, now, true);
}

void ClientCore::send_frame(proto::FrameType type, std::string_view body, uint64_t now) {
  proto::encode_frame(out_, type, body);
  last_send_ms_ = now;
}

void ClientCore::send_request(uint64_t rid, Kind kind, const std::string& body, InFlight in_flight,
                              uint64_t now) {
  in_flight.kind = kind;
  in_flight_.emplace(rid, std::move(in_flight));
  send_frame(proto::FrameType::Request, body, now);
}

void ClientCore::handle_timeout(uint64_t now) {
  switch (phase_) {
    case Phase::Offline:
      if (started_ && now >= reconnect_at_) begin_dial(now);
      break;
    case Phase::Dialing:
      if (now >= dial_deadline_) go_offline(FERRY_ETIMEDOUT, "connect timed out", now, true);
      break;
    default:
      if (now - last_recv_ms_ >= dead_after_ms()) {
        go_offline(FERRY_EIDLE,
                   "nothing from the server for " + std::to_string(dead_after_ms()) + " ms", now,
                   true);
      } else if (now - last_send_ms_ >= heartbeat_ms_) {
        send_frame(proto::FrameType::Ping, "", now);
      }
      break;
  }
  expire_requests(now);
  if (retry_at_ != 0 && now >= retry_at_) {
    retry_at_ = 0;
    resend_outbox(now);
  }
  uploads_.handle_timeout(now);
  pump_uploads(now);
  downloads_.handle_timeout(now);
  pump_downloads(now);
}

std::optional<uint64_t> ClientCore::poll_timeout() const {
  std::optional<uint64_t> t;
  auto consider = [&t](uint64_t at) { t = t ? std::min(*t, at) : at; };
  switch (phase_) {
    case Phase::Offline:
      if (started_) consider(reconnect_at_);
      break;
    case Phase::Dialing:
      consider(dial_deadline_);
      break;
    default:
      consider(last_recv_ms_ + dead_after_ms());
      consider(last_send_ms_ + heartbeat_ms_);
      break;
  }
  for (const Request& r : pending_) consider(r.deadline_ms);
  if (retry_at_ != 0) consider(retry_at_);
  if (auto u = uploads_.poll_timeout()) consider(*u);
  if (auto d = downloads_.poll_timeout()) consider(*d);
  return t;
}

}  // namespace ferry::sdk
