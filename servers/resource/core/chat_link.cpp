// ferry-resd's link to ferry-chatd (see chat_link.h and docs/protocol.md §7).
#include "servers/resource/core/chat_link.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "proto/hex.h"
#include "proto/json.h"

namespace ferry::resource {

namespace {

constexpr char kPeerMacPrefix[] = "ferry-peer-v1:";
constexpr char kAgent[] = "ferry-resd/0.1.0";

// chatd answered upload_done with one of these: it will never accept this notification, so
// re-sending is pointless (the message failed, was cancelled or never existed).
bool permanent_refusal(const std::string& code) {
  return code == "bad_request" || code == "unknown_message" || code == "not_uploading" ||
         code == "bad_media" || code == "unknown_field";
}

}  // namespace

ChatLink::ChatLink(LinkConfig config)
    : config_(std::move(config)), backoff_ms_(config_.backoff_min_ms) {}

std::string ChatLink::peer_mac(std::string_view key, std::string_view challenge) {
  std::string data = std::string(kPeerMacPrefix) + std::string(challenge);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return proto::hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

bool ChatLink::connect_due(int64_t now_ms) const {
  return state_ == State::Down && now_ms >= next_attempt_ms_;
}

void ChatLink::on_connecting(int64_t now_ms) {
  state_ = State::Connecting;
  state_deadline_ms_ = now_ms + config_.handshake_timeout_ms;
  close_requested_ = false;
  close_reported_ = false;
}

void ChatLink::on_connected(int64_t now_ms) {
  if (state_ != State::Connecting) return;
  state_ = State::Hello;
  last_rx_ms_ = now_ms;
  decoder_ = proto::FrameDecoder(proto::kDefaultMaxBody);
  proto::Json h = proto::json_object();
  proto::json_set_u64(h.get(), "proto", proto::kProtocolVersion);
  proto::json_set_string(h.get(), "agent", kAgent);
  send(proto::FrameType::Hello, proto::json_print(h.get()), now_ms);
}

void ChatLink::on_closed(int64_t now_ms) {
  if (state_ == State::Down) return;
  state_ = State::Down;
  next_attempt_ms_ = now_ms + backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, config_.backoff_max_ms);
  close_requested_ = false;
  close_reported_ = false;
  out_.clear();
  rids_.clear();
  for (auto& [id, p] : outbox_) p.rid = 0;  // re-sent on the next connection
}

void ChatLink::fail(const std::string& why) {
  if (close_requested_) return;
  close_requested_ = true;
  log("chat link: " + why + "; reconnecting");
}

void ChatLink::log(std::string text) {
  events_.push_back({LinkEvent::Kind::Log, 0, std::move(text)});
}

void ChatLink::on_bytes(const char* data, size_t len, int64_t now_ms) {
  if (state_ == State::Down || state_ == State::Connecting || close_requested_) return;
  last_rx_ms_ = now_ms;
  decoder_.feed(data, len);
  proto::Frame f;
  while (!close_requested_) {
    proto::DecodeStatus st = decoder_.next(f);
    if (st == proto::DecodeStatus::NeedMore) return;
    if (st != proto::DecodeStatus::Ready) return fail(decoder_.error());
    on_frame(f.type, f.body, now_ms);
  }
}

void ChatLink::on_frame(proto::FrameType type, std::string_view body, int64_t now_ms) {
  using proto::FrameType;
  if (state_ == State::Hello) {
    if (type != FrameType::Hello && type != FrameType::Error) {
      return fail("chat server did not answer HELLO");
    }
  }
  switch (type) {
    case FrameType::Hello:
      if (state_ != State::Hello) return fail("unexpected HELLO from the chat server");
      return on_hello(body, now_ms);
    case FrameType::Response:
      return on_response(body, now_ms);
    case FrameType::Push:
      return on_push(body);
    case FrameType::Ping:
      return send(FrameType::Pong, body, now_ms);
    case FrameType::Error: {
      proto::Json j = proto::json_parse(body);
      const cJSON* fatal = j ? cJSON_GetObjectItem(j.get(), "fatal") : nullptr;
      if (!j || cJSON_IsTrue(fatal) || state_ != State::Ready) {
        return fail("chat server sent ERROR " + std::string(body));
      }
      return;
    }
    default:
      return;  // PONG and anything else carry nothing for us
  }
}

void ChatLink::on_hello(std::string_view body, int64_t now_ms) {
  proto::Json j = proto::json_parse(body);
  std::string err, challenge;
  uint64_t version = 0, heartbeat = 0, idle = 0;
  if (!j || !cJSON_IsObject(j.get()) || !proto::json_get_u64(j.get(), "proto", version, err) ||
      !proto::json_get_string(j.get(), "challenge", challenge, err) ||
      !proto::json_opt_u64(j.get(), "heartbeat_ms", heartbeat, err) ||
      !proto::json_opt_u64(j.get(), "idle_timeout_ms", idle, err)) {
    return fail("bad HELLO from the chat server: " + (err.empty() ? "not JSON" : err));
  }
  if (version != proto::kProtocolVersion) {
    return fail("chat server speaks protocol " + std::to_string(version));
  }
  if (challenge.size() < 32 || challenge.size() > 256) {
    return fail("chat server's challenge has a bad length");
  }
  heartbeat_ms_ = heartbeat > 0 ? static_cast<int64_t>(heartbeat) : config_.default_heartbeat_ms;
  idle_timeout_ms_ = idle > 0 ? static_cast<int64_t>(idle) : config_.default_idle_timeout_ms;
  std::string tail = ",\"mac\":\"" + peer_mac(config_.key, challenge) + "\",\"advertise\":";
  proto::Json adv = proto::Json(cJSON_CreateString(config_.advertise.c_str()));
  tail += proto::json_print(adv.get());
  if (!config_.http.empty()) {
    // docs/protocol-download.md §1: where chatd's download URLs point.
    proto::Json http = proto::Json(cJSON_CreateString(config_.http.c_str()));
    tail += ",\"http\":" + proto::json_print(http.get());
  }
  state_ = State::Auth;
  request(RidKind::Auth, 0, "\"op\":\"peer_auth\"" + tail);
  last_tx_ms_ = now_ms;
}

uint64_t ChatLink::request(RidKind kind, uint64_t message_id, const std::string& fields) {
  uint64_t rid = next_rid_++;
  rids_[rid] = {kind, message_id};
  std::string body = "{\"rid\":" + std::to_string(rid) + "," + fields + "}";
  proto::encode_frame(out_, proto::FrameType::Request, body);
  return rid;
}

void ChatLink::send(proto::FrameType type, std::string_view body, int64_t now_ms) {
  proto::encode_frame(out_, type, body);
  last_tx_ms_ = now_ms;
}

void ChatLink::on_response(std::string_view body, int64_t now_ms) {
  proto::Json j = proto::json_parse(body);
  std::string err;
  uint64_t rid = 0;
  if (!j || !proto::json_get_u64(j.get(), "rid", rid, err)) {
    return fail("chat server sent a RESPONSE without rid");
  }
  auto it = rids_.find(rid);
  if (it == rids_.end()) return;  // an answer to a request of an earlier connection
  auto [kind, message_id] = it->second;
  rids_.erase(it);
  bool ok = cJSON_IsTrue(cJSON_GetObjectItem(j.get(), "ok"));
  std::string code;
  if (!ok) {
    const cJSON* e = cJSON_GetObjectItem(j.get(), "error");
    const cJSON* c = e ? cJSON_GetObjectItem(e, "code") : nullptr;
    code = cJSON_IsString(c) ? c->valuestring : "unknown";
  }
  switch (kind) {
    case RidKind::Auth:
      if (!ok) return fail("peer_auth refused by the chat server: " + code);
      state_ = State::Ready;
      backoff_ms_ = config_.backoff_min_ms;
      log("chat link: authenticated; " + std::to_string(outbox_.size()) +
          " upload_done notification(s) pending");
      return send_outbox(now_ms);
    case RidKind::Progress:
      return;  // advisory; nothing to do either way
    case RidKind::Done: {
      auto o = outbox_.find(message_id);
      if (o == outbox_.end()) return;
      if (ok || permanent_refusal(code)) {
        if (!ok) {
          log("chat link: upload_done for message " + std::to_string(message_id) +
              " refused with " + code + "; dropped");
        }
        outbox_.erase(o);
        events_.push_back({LinkEvent::Kind::DoneAcked, message_id, {}});
      } else {
        o->second.rid = 0;
        o->second.retry_at_ms = now_ms + config_.retry_ms;
      }
      return;
    }
  }
}

void ChatLink::on_push(std::string_view body) {
  proto::Json j = proto::json_parse(body);
  std::string err, event;
  uint64_t message_id = 0;
  if (!j || !proto::json_get_string(j.get(), "event", event, err)) return;
  if (!proto::json_get_u64(j.get(), "message_id", message_id, err)) return;
  if (event == "cancel") return events_.push_back({LinkEvent::Kind::Cancel, message_id, {}});
  std::string sha;
  if (event == "bind" && proto::json_get_string(j.get(), "sha256", sha, err)) {
    events_.push_back({LinkEvent::Kind::Bind, message_id, sha});
  }
}

void ChatLink::notify_done(uint64_t message_id, uint64_t size, const std::string& sha256_hex,
                           int64_t now_ms) {
  Pending& p = outbox_[message_id];
  p.size = size;
  p.sha256_hex = sha256_hex;
  if (ready()) send_outbox(now_ms);
}

void ChatLink::send_outbox(int64_t now_ms) {
  for (auto& [id, p] : outbox_) {
    if (p.rid != 0 || p.retry_at_ms > now_ms) continue;
    p.rid = request(RidKind::Done, id,
                    "\"op\":\"upload_done\",\"message_id\":" + std::to_string(id) + ",\"size\":" +
                        std::to_string(p.size) + ",\"sha256\":\"" + p.sha256_hex + "\"");
    last_tx_ms_ = now_ms;
  }
}

void ChatLink::progress(uint64_t message_id, uint64_t done, uint64_t total) {
  if (!ready()) return;
  request(RidKind::Progress, message_id,
          "\"op\":\"upload_progress\",\"message_id\":" + std::to_string(message_id) +
              ",\"done\":" + std::to_string(done) + ",\"total\":" + std::to_string(total));
}

void ChatLink::handle_timeout(int64_t now_ms) {
  if (state_ == State::Down || close_requested_) return;
  if (state_ != State::Ready) {
    if (now_ms >= state_deadline_ms_) fail("chat link handshake timed out");
    return;
  }
  if (now_ms - last_rx_ms_ >= idle_timeout_ms_) {
    return fail("chat server silent for " + std::to_string(idle_timeout_ms_) + " ms");
  }
  send_outbox(now_ms);
  if (now_ms - last_tx_ms_ >= heartbeat_ms_) send(proto::FrameType::Ping, "", now_ms);
}

int64_t ChatLink::poll_timeout() const {
  if (close_requested_) return INT64_MAX;
  switch (state_) {
    case State::Down:
      return next_attempt_ms_;
    case State::Connecting:
    case State::Hello:
    case State::Auth:
      return state_deadline_ms_;
    case State::Ready:
      break;
  }
  int64_t t = std::min(last_rx_ms_ + idle_timeout_ms_, last_tx_ms_ + heartbeat_ms_);
  for (const auto& [id, p] : outbox_) {
    if (p.rid == 0) t = std::min(t, p.retry_at_ms);
  }
  return t;
}

bool ChatLink::poll_send(std::string& bytes) {
  if (out_.empty()) return false;
  bytes.clear();
  bytes.swap(out_);
  return true;
}

bool ChatLink::poll_close() {
  if (!close_requested_ || state_ == State::Down) return false;
  bool first = !close_reported_;
  close_reported_ = true;
  return first;
}

bool ChatLink::poll_event(LinkEvent& event) {
  if (events_.empty()) return false;
  event = events_.front();
  events_.pop_front();
  return true;
}

}  // namespace ferry::resource
