// Test support: a ferry SDK client driven from a test thread. Wraps ferry.h only, so the
// tests exercise the same API an app uses. Collects events into plain C++ containers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ferry.h"

namespace ferry::test {

struct Received {
  uint64_t id;
  std::string cid, from, to, text;
};

class SdkPeer {
 public:
  // state_dir may be empty (in-memory state); loop: a shared ferry_loop_t, or null for the
  // client's own thread.
  SdkPeer(const std::string& server, const std::string& state_dir, ferry_loop_t* loop = nullptr);
  ~SdkPeer();
  SdkPeer(const SdkPeer&) = delete;
  SdkPeer& operator=(const SdkPeer&) = delete;

  ferry_client_t* client() const { return client_; }

  // register or login; waits for the AUTH event. Returns its status.
  int register_user(const std::string& user, const std::string& password, int timeout_ms = 60000);
  int login(const std::string& user, const std::string& password, int timeout_ms = 60000);
  // Queues a message; returns the local id ("" on error; error in *err).
  std::string send(const std::string& to, const std::string& text, int* err = nullptr);

  // Pumps events until pred() is true or timeout; returns pred().
  bool pump_until(const std::function<bool()>& pred, int timeout_ms = 120000);
  void pump(int timeout_ms);

  // Collected state.
  std::vector<Received> received;  // FERRY_EVENT_MESSAGE in arrival order
  std::map<std::string, uint64_t> sent;  // local id -> server id, for SENT statuses
  std::map<std::string, int> failed;  // local id -> error
  int sent_duplicates = 0;  // SENT reported twice for one local id
  int synced_count = 0;
  int conn_state = -1;
  int online_transitions = 0;

 private:
  void handle(const ferry_event_t* ev);
  int wait_auth(uint64_t rid, int timeout_ms);

  ferry_client_t* client_ = nullptr;
  std::map<uint64_t, int> auth_results_;
};

}  // namespace ferry::test
