#include "sdk/api/event_build.h"

#include <cstdlib>
#include <cstring>

namespace ferry::sdk {
namespace {

size_t strings_size(const Message& m) {
  return m.cid.size() + m.from.size() + m.to.size() + m.kind.size() + m.text.size() + 5;
}

// Hands out NUL-terminated copies from the string area of the block.
class Arena {
 public:
  explicit Arena(char* p) : p_(p) {}
  const char* put(const std::string& s) {
    char* out = p_;
    std::memcpy(out, s.data(), s.size());
    out[s.size()] = '\0';
    p_ += s.size() + 1;
    return out;
  }

 private:
  char* p_;
};

void fill_message(ferry_message_t& out, const Message& m, Arena& arena) {
  out.id = m.id;
  out.local_id = arena.put(m.cid);
  out.from = arena.put(m.from);
  out.to = arena.put(m.to);
  out.kind = arena.put(m.kind);
  out.text = arena.put(m.text);
  out.ts_ms = m.ts_ms;
  out.status = m.status;
}

}  // namespace

ferry_event_t* build_event(const Event& e) {
  bool is_message = e.type == FERRY_EVENT_MESSAGE || e.type == FERRY_EVENT_MESSAGE_STATUS;
  bool is_history = e.type == FERRY_EVENT_HISTORY;
  size_t n = is_history ? e.messages.size() : 0;
  size_t strings = e.detail.size() + 1;
  if (e.type == FERRY_EVENT_AUTH) strings += e.user.size() + 1;
  if (is_message) strings += strings_size(e.message);
  if (is_history) {
    strings += e.peer.size() + 1;
    for (const Message& m : e.messages) strings += strings_size(m);
  }
  // ferry_event_t's size is a multiple of its 8-byte alignment, so the array after it is
  // aligned too.
  static_assert(sizeof(ferry_event_t) % alignof(ferry_message_t) == 0);
  size_t total = sizeof(ferry_event_t) + n * sizeof(ferry_message_t) + strings;
  auto* block = static_cast<char*>(std::calloc(1, total));
  if (!block) return nullptr;
  auto* ev = reinterpret_cast<ferry_event_t*>(block);
  auto* msgs = reinterpret_cast<ferry_message_t*>(block + sizeof(ferry_event_t));
  Arena arena(block + sizeof(ferry_event_t) + n * sizeof(ferry_message_t));
  ev->type = e.type;
  ev->status = e.status;
  ev->request_id = e.request_id;
  ev->detail = arena.put(e.detail);
  switch (e.type) {
    case FERRY_EVENT_CONNECTION:
      ev->u.connection.state = e.conn_state;
      break;
    case FERRY_EVENT_AUTH:
      ev->u.auth.user = arena.put(e.user);
      ev->u.auth.user_id = e.user_id;
      break;
    case FERRY_EVENT_MESSAGE:
    case FERRY_EVENT_MESSAGE_STATUS:
      fill_message(ev->u.message, e.message, arena);
      break;
    case FERRY_EVENT_HISTORY:
      ev->u.history.peer = arena.put(e.peer);
      for (size_t i = 0; i < n; i++) fill_message(msgs[i], e.messages[i], arena);
      ev->u.history.messages = msgs;  // never NULL, even for an empty page
      ev->u.history.count = n;
      ev->u.history.more = e.more ? 1 : 0;
      break;
    default:
      break;
  }
  return ev;
}

}  // namespace ferry::sdk
