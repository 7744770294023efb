// SdkPeer: an SDK client for tests (see sdk_peer.h).
#include "tests/support/sdk_peer.h"

#include <chrono>
#include <cstdlib>

namespace ferry::test {

static int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

SdkPeer::SdkPeer(const std::string& server, const std::string& state_dir, ferry_loop_t* loop) {
  ferry_options_t* opts = ferry_options_new();
  ferry_options_set_server(opts, server.c_str());
  if (loop) ferry_options_set_loop(opts, loop);
  if (!state_dir.empty()) ferry_options_set_state_dir(opts, state_dir.c_str());
  // Fast reconnects keep the restart tests short; correctness does not depend on it.
  ferry_options_set_reconnect(opts, 50, 500);
  if (ferry_client_new(opts, &client_) != FERRY_OK) abort();
  ferry_options_destroy(opts);
}

SdkPeer::~SdkPeer() { ferry_client_destroy(client_); }

void SdkPeer::handle(const ferry_event_t* ev) {
  switch (ev->type) {
    case FERRY_EVENT_CONNECTION:
      conn_state = ev->u.connection.state;
      if (conn_state == FERRY_CONN_ONLINE) online_transitions++;
      break;
    case FERRY_EVENT_AUTH:
      auth_results_[ev->request_id] = ev->status;
      break;
    case FERRY_EVENT_MESSAGE: {
      const ferry_message_t& m = ev->u.message;
      received.push_back({m.id, m.local_id, m.from, m.to, m.text});
      break;
    }
    case FERRY_EVENT_MESSAGE_STATUS: {
      const ferry_message_t& m = ev->u.message;
      if (m.status == FERRY_MSG_SENT) {
        if (sent.count(m.local_id)) sent_duplicates++;
        sent[m.local_id] = m.id;
      } else if (m.status == FERRY_MSG_FAILED) {
        failed[m.local_id] = ev->status;
      }
      break;
    }
    case FERRY_EVENT_SYNCED:
      synced_count++;
      break;
    default:
      break;
  }
}

void SdkPeer::pump(int timeout_ms) {
  ferry_event_t* ev = nullptr;
  int wait = timeout_ms;
  while (ferry_poll_event(client_, &ev, wait) == FERRY_OK) {
    handle(ev);
    ferry_event_free(ev);
    wait = 0;  // drain what is queued, then return
  }
}

bool SdkPeer::pump_until(const std::function<bool()>& pred, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (!pred()) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pump(static_cast<int>(left < 100 ? left : 100));
  }
  return true;
}

int SdkPeer::wait_auth(uint64_t rid, int timeout_ms) {
  if (!pump_until([&] { return auth_results_.count(rid) > 0; }, timeout_ms)) return FERRY_ETIMEDOUT;
  return auth_results_[rid];
}

int SdkPeer::register_user(const std::string& user, const std::string& password, int timeout_ms) {
  uint64_t rid = 0;
  int rc = ferry_register(client_, user.c_str(), password.c_str(), &rid);
  if (rc != FERRY_OK) return rc;
  return wait_auth(rid, timeout_ms);
}

int SdkPeer::login(const std::string& user, const std::string& password, int timeout_ms) {
  uint64_t rid = 0;
  int rc = ferry_login(client_, user.c_str(), password.c_str(), &rid);
  if (rc != FERRY_OK) return rc;
  return wait_auth(rid, timeout_ms);
}

std::string SdkPeer::send(const std::string& to, const std::string& text, int* err) {
  char local_id[FERRY_LOCAL_ID_SIZE];
  int rc = ferry_send_text(client_, to.c_str(), text.c_str(), local_id);
  if (err) *err = rc;
  return rc == FERRY_OK ? std::string(local_id) : std::string();
}

}  // namespace ferry::test
