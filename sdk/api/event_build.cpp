#include "sdk/api/event_build.h"

#include <cstdlib>
#include <cstring>

namespace ferry::sdk {
namespace {

size_t strings_size(const Message& m) {
  size_t n = m.cid.size() + m.from.size() + m.to.size() + m.kind.size() + m.text.size() + 5;
  if (m.has_media) {
    n += m.media.name.size() + m.media.mime.size() + m.media.sha256.size() + 3;
    n += m.media.thumb.size();
  }
  return n;
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
  const unsigned char* put_bytes(const std::string& s) {
    if (s.empty()) return nullptr;
    auto* out = reinterpret_cast<unsigned char*>(p_);
    std::memcpy(out, s.data(), s.size());
    p_ += s.size();
    return out;
  }

 private:
  char* p_;
};

void fill_media(ferry_media_t& out, const MediaMeta& m, Arena& arena) {
  out.kind = m.kind;
  out.name = arena.put(m.name);
  out.size = m.size;
  out.mime = arena.put(m.mime);
  out.sha256 = arena.put(m.sha256);
  out.width = m.width;
  out.height = m.height;
  out.duration_ms = m.duration_ms;
  out.thumb = arena.put_bytes(m.thumb);
  out.thumb_len = m.thumb.size();
  out.progress = m.progress;
}

// `media` is the slot for this message's ferry_media_t (used only when it has media).
void fill_message(ferry_message_t& out, const Message& m, ferry_media_t* media, Arena& arena) {
  out.id = m.id;
  out.local_id = arena.put(m.cid);
  out.from = arena.put(m.from);
  out.to = arena.put(m.to);
  out.kind = arena.put(m.kind);
  out.text = arena.put(m.text);
  out.ts_ms = m.ts_ms;
  out.status = m.status;
  out.media = nullptr;
  if (m.has_media) {
    fill_media(*media, m.media, arena);
    out.media = media;
  }
}

}  // namespace

ferry_event_t* build_event(const Event& e) {
  bool is_message = e.type == FERRY_EVENT_MESSAGE || e.type == FERRY_EVENT_MESSAGE_STATUS;
  bool is_history = e.type == FERRY_EVENT_HISTORY;
  size_t n = is_history ? e.messages.size() : 0;
  size_t media_n = 0;  // ferry_media_t slots
  size_t strings = e.detail.size() + 1;
  if (e.type == FERRY_EVENT_AUTH) strings += e.user.size() + 1;
  if (e.type == FERRY_EVENT_UPLOAD_PROGRESS) strings += e.message.cid.size() + 1;
  bool is_download =
      e.type == FERRY_EVENT_DOWNLOAD_PROGRESS || e.type == FERRY_EVENT_DOWNLOAD_STATUS;
  if (is_download) strings += e.path.size() + 1;
  if (e.type == FERRY_EVENT_DOWNLOAD_URL) {
    strings += e.url.url.size() + e.url.ticket.size() + e.url.sha256.size() + e.url.name.size() +
               e.url.mime.size() + 5;
  }
  if (is_message) {
    strings += strings_size(e.message);
    media_n += e.message.has_media ? 1 : 0;
  }
  if (is_history) {
    strings += e.peer.size() + 1;
    for (const Message& m : e.messages) {
      strings += strings_size(m);
      media_n += m.has_media ? 1 : 0;
    }
  }
  // Every struct's size is a multiple of its 8-byte alignment, so each array after the event
  // is aligned too; the byte arena comes last.
  static_assert(sizeof(ferry_event_t) % alignof(ferry_message_t) == 0);
  static_assert(sizeof(ferry_message_t) % alignof(ferry_media_t) == 0);
  size_t media_at = sizeof(ferry_event_t) + n * sizeof(ferry_message_t);
  size_t total = media_at + media_n * sizeof(ferry_media_t) + strings;
  auto* block = static_cast<char*>(std::calloc(1, total));
  if (!block) return nullptr;
  auto* ev = reinterpret_cast<ferry_event_t*>(block);
  auto* msgs = reinterpret_cast<ferry_message_t*>(block + sizeof(ferry_event_t));
  auto* media = reinterpret_cast<ferry_media_t*>(block + media_at);
  Arena arena(block + media_at + media_n * sizeof(ferry_media_t));
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
      fill_message(ev->u.message, e.message, media, arena);
      break;
    case FERRY_EVENT_UPLOAD_PROGRESS:
      ev->u.progress.local_id = arena.put(e.message.cid);
      ev->u.progress.message_id = e.message.id;
      ev->u.progress.done = e.done;
      ev->u.progress.total = e.total;
      ev->u.progress.outgoing = e.outgoing ? 1 : 0;
      break;
    case FERRY_EVENT_DOWNLOAD_PROGRESS:
    case FERRY_EVENT_DOWNLOAD_STATUS:
      ev->u.download.message_id = e.message.id;
      ev->u.download.state = e.download_state;
      ev->u.download.done = e.done;
      ev->u.download.total = e.total;
      ev->u.download.path = arena.put(e.path);
      break;
    case FERRY_EVENT_DOWNLOAD_URL:
      ev->u.url.message_id = e.message.id;
      ev->u.url.url = arena.put(e.url.url);
      ev->u.url.ticket = arena.put(e.url.ticket);
      ev->u.url.expires_ms = e.url.expires_ms;
      ev->u.url.size = e.url.size;
      ev->u.url.sha256 = arena.put(e.url.sha256);
      ev->u.url.name = arena.put(e.url.name);
      ev->u.url.mime = arena.put(e.url.mime);
      break;
    case FERRY_EVENT_HISTORY:
      ev->u.history.peer = arena.put(e.peer);
      for (size_t i = 0; i < n; i++) {
        fill_message(msgs[i], e.messages[i], media, arena);
        if (e.messages[i].has_media) media++;
      }
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
