// The app's state, fed by ferry events: connection, session, conversations and their bubbles,
// transfers. Plain C++ (ferry.h's event structs in, no ImGui, no SDK calls), so
// tests/gui/model_test.cpp drives it with hand-made events.
//
// Invariant: each conversation's messages are sorted by server id, with pending sends (id 0)
// after every stored message in the order they were sent. A message is one bubble: a status
// event, a history page or a sync that names the same message (same local id, or same server
// id) updates that bubble instead of adding another.
#pragma once

#include <ferry.h>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "gui/model/message.h"

namespace ferry::gui {

struct Conversation {
  std::string peer;
  std::vector<Message> messages;
  int unread = 0;
  bool more_history = true;      // older messages may exist on the server
  bool history_pending = false;  // a ferry_history request is in flight
  int64_t last_activity = 0;     // ts of the newest message, or a local counter for new ones
  const Message* last() const { return messages.empty() ? nullptr : &messages.back(); }
  // Oldest server id held (0 when none): the `before_id` for the next history page.
  uint64_t oldest_id() const;
};

struct Connection {
  int state = FERRY_CONN_CONNECTING;  // ferry_conn_state
  int status = 0;                     // OFFLINE: why
  std::string detail;
  bool online() const { return state == FERRY_CONN_ONLINE; }
};

class AppModel {
 public:
  // Applies one event. Returns true if anything visible changed.
  bool apply(const ferry_event_t& ev);

  // Local actions (the app calls the SDK, then records what it did here).
  Message& add_outgoing_text(const std::string& peer, const std::string& local_id,
                             const std::string& text);
  Message& add_outgoing_file(const std::string& peer, const std::string& local_id,
                             const std::string& path, const std::string& name);
  // Replaces a FAILED message's local id after it was sent again (retry).
  void reset_for_retry(Message& m, const std::string& new_local_id);

  Conversation& conversation(const std::string& peer);  // creates it when new
  Conversation* find(const std::string& peer);
  void open(const std::string& peer);  // selects it and clears its unread count
  void clear_conversations();          // on logout
  const std::string& open_peer() const { return open_peer_; }
  // Peers ordered by last activity, newest first.
  std::vector<const Conversation*> conversations_by_activity() const;
  size_t conversation_count() const { return convs_.size(); }

  Message* find_local(const std::string& local_id);
  Message* find_id(uint64_t id);

  const Connection& connection() const { return conn_; }
  const std::string& user() const { return user_; }
  void set_user(const std::string& u) { user_ = u; }
  bool synced() const { return synced_; }
  // The last register/login request's id and outcome (0 ok, FERRY_E* failed, 1 waiting).
  uint64_t auth_request = 0;
  int auth_result = 1;
  std::string auth_detail;
  // Answers to ferry_download_url, by request id (the app takes them out).
  std::map<uint64_t, std::string> urls;
  // The last error worth showing to the person (history failed, send refused, ...).
  std::string notice;
  // Bumped on every change; the UI uses it to notice new messages (auto-scroll).
  uint64_t revision = 0;

 private:
  bool apply_message(const ferry_message_t& m, bool incoming_new);
  bool apply_status(const ferry_event_t& ev);
  bool apply_history(const ferry_event_t& ev);
  bool apply_upload_progress(const ferry_event_t& ev);
  bool apply_download(const ferry_event_t& ev);
  std::string peer_of(const std::string& from, const std::string& to) const;
  void place(Conversation& c, Message&& m);
  // Gives a pending message its server id and moves it to its place; returns where it is now.
  Message* set_id(Message* m, uint64_t id);  // inserts keeping the order invariant
  void index(const std::string& peer, const Message& m);
  static void fill(Message& dst, const ferry_message_t& src);

  std::map<std::string, Conversation> convs_;
  std::unordered_map<std::string, std::string> peer_by_local_;
  std::unordered_map<uint64_t, std::string> peer_by_id_;
  std::string open_peer_;
  std::string user_;
  Connection conn_;
  bool synced_ = false;
  int64_t local_clock_ = 0;
  uint64_t next_serial_ = 0;
};

}  // namespace ferry::gui
