#include "gui/model/model.h"

#include <algorithm>

namespace ferry::gui {

namespace {

// Sort key of the order invariant: stored messages by id, pending ones last.
uint64_t order_key(const Message& m) { return m.id ? m.id : UINT64_MAX; }

std::string str(const char* s) { return s ? s : ""; }

}  // namespace

uint64_t Conversation::oldest_id() const {
  for (const Message& m : messages)
    if (m.id) return m.id;
  return 0;
}

Conversation& AppModel::conversation(const std::string& peer) {
  auto it = convs_.find(peer);
  if (it != convs_.end()) return it->second;
  Conversation& c = convs_[peer];
  c.peer = peer;
  c.last_activity = ++local_clock_;
  revision++;
  return c;
}

Conversation* AppModel::find(const std::string& peer) {
  auto it = convs_.find(peer);
  return it == convs_.end() ? nullptr : &it->second;
}

void AppModel::open(const std::string& peer) {
  open_peer_ = peer;
  if (peer.empty()) return;
  conversation(peer).unread = 0;
  revision++;
}

void AppModel::clear_conversations() {
  convs_.clear();
  peer_by_local_.clear();
  peer_by_id_.clear();
  open_peer_.clear();
  revision++;
}

std::vector<const Conversation*> AppModel::conversations_by_activity() const {
  std::vector<const Conversation*> out;
  for (const auto& [peer, c] : convs_) out.push_back(&c);
  std::stable_sort(out.begin(), out.end(), [](const Conversation* a, const Conversation* b) {
    return a->last_activity > b->last_activity;
  });
  return out;
}

Message* AppModel::find_local(const std::string& local_id) {
  if (local_id.empty()) return nullptr;
  auto it = peer_by_local_.find(local_id);
  if (it == peer_by_local_.end()) return nullptr;
  Conversation* c = find(it->second);
  if (!c) return nullptr;
  for (auto m = c->messages.rbegin(); m != c->messages.rend(); ++m)
    if (m->local_id == local_id) return &*m;
  return nullptr;
}

Message* AppModel::find_id(uint64_t id) {
  if (id == 0) return nullptr;
  auto it = peer_by_id_.find(id);
  if (it == peer_by_id_.end()) return nullptr;
  Conversation* c = find(it->second);
  if (!c) return nullptr;
  // Binary search over the stored prefix (sorted by id).
  auto pos = std::lower_bound(c->messages.begin(), c->messages.end(), id,
                              [](const Message& m, uint64_t v) { return order_key(m) < v; });
  if (pos != c->messages.end() && pos->id == id) return &*pos;
  return nullptr;
}

std::string AppModel::peer_of(const std::string& from, const std::string& to) const {
  return from == user_ ? to : from;
}

void AppModel::index(const std::string& peer, const Message& m) {
  if (!m.local_id.empty()) peer_by_local_[m.local_id] = peer;
  if (m.id) peer_by_id_[m.id] = peer;
}

void AppModel::place(Conversation& c, Message&& m) {
  uint64_t key = order_key(m);
  auto pos = std::upper_bound(c.messages.begin(), c.messages.end(), key,
                              [](uint64_t v, const Message& x) { return v < order_key(x); });
  if (m.serial == 0) m.serial = ++next_serial_;
  index(c.peer, m);
  if (m.ts_ms > c.last_activity) c.last_activity = m.ts_ms;
  c.messages.insert(pos, std::move(m));
}

void AppModel::fill(Message& dst, const ferry_message_t& src) {
  if (src.id) dst.id = src.id;
  if (src.local_id && *src.local_id) dst.local_id = src.local_id;
  if (src.from && *src.from) dst.from = src.from;
  if (src.to && *src.to) dst.to = src.to;
  if (src.text && !src.media) dst.text = src.text;
  if (src.ts_ms) dst.ts_ms = src.ts_ms;
  dst.status = static_cast<MsgStatus>(src.status);
  if (const ferry_media_t* md = src.media) {
    dst.kind = static_cast<MediaKind>(md->kind);
    dst.name = str(md->name);
    dst.mime = str(md->mime);
    dst.sha256 = str(md->sha256);
    dst.size = md->size;
    dst.width = md->width;
    dst.height = md->height;
    dst.duration_ms = md->duration_ms;
    if (md->thumb && md->thumb_len) dst.thumb.assign(md->thumb, md->thumb + md->thumb_len);
    dst.upload_done = std::max(dst.upload_done, md->progress);
  }
}

Message* AppModel::set_id(Message* m, uint64_t id) {
  Conversation* c = find(peer_of(m->from, m->to));
  if (!c) return m;
  Message moved = std::move(*m);
  c->messages.erase(c->messages.begin() + (m - c->messages.data()));
  moved.id = id;
  std::string local_id = moved.local_id;
  place(*c, std::move(moved));
  return local_id.empty() ? find_id(id) : find_local(local_id);
}

bool AppModel::apply_message(const ferry_message_t& m, bool incoming_new) {
  std::string peer = peer_of(str(m.from), str(m.to));
  if (peer.empty()) return false;
  Message* existing = nullptr;
  if (m.local_id && *m.local_id) existing = find_local(m.local_id);
  if (!existing) existing = find_id(m.id);
  if (existing) {
    uint64_t old_id = existing->id;
    fill(*existing, m);
    // It gained its server id: move it to its place among stored messages.
    if (existing->id != old_id) set_id(existing, existing->id);
    return true;
  }
  Conversation& c = conversation(peer);
  Message fresh;
  fill(fresh, m);
  place(c, std::move(fresh));
  if (incoming_new && str(m.from) != user_ && peer != open_peer_) c.unread++;
  return true;
}

bool AppModel::apply_status(const ferry_event_t& ev) {
  const ferry_message_t& m = ev.u.message;
  Message* existing = (m.local_id && *m.local_id) ? find_local(m.local_id) : nullptr;
  if (!existing) existing = find_id(m.id);
  if (!existing) {
    // A status for a message this app never showed (e.g. sent before a restart): show it if
    // it says enough to place it.
    if (!m.from || !m.to || !*m.from || !*m.to) return false;
    return apply_message(m, false);
  }
  apply_message(m, false);
  existing = (m.local_id && *m.local_id) ? find_local(m.local_id) : find_id(m.id);
  if (existing) existing->error = m.status == FERRY_MSG_FAILED ? ev.status : 0;
  return true;
}

bool AppModel::apply_history(const ferry_event_t& ev) {
  std::string peer = str(ev.u.history.peer);
  if (peer.empty()) return false;
  Conversation& c = conversation(peer);
  c.history_pending = false;
  if (ev.status != FERRY_OK) {
    notice = "history with " + peer + ": " + str(ev.detail);
    c.more_history = false;
    return true;
  }
  for (size_t i = 0; i < ev.u.history.count; i++) apply_message(ev.u.history.messages[i], false);
  c.more_history = ev.u.history.more != 0;
  return true;
}

bool AppModel::apply_upload_progress(const ferry_event_t& ev) {
  Message* m = find_local(str(ev.u.progress.local_id));
  if (!m) m = find_id(ev.u.progress.message_id);
  if (!m) return false;
  if (ev.u.progress.message_id && !m->id) m = set_id(m, ev.u.progress.message_id);
  m->upload_done = ev.u.progress.done;
  if (ev.u.progress.total) m->size = ev.u.progress.total;
  return true;
}

bool AppModel::apply_download(const ferry_event_t& ev) {
  Message* m = find_id(ev.u.download.message_id);
  if (!m) return false;
  if (ev.type == FERRY_EVENT_DOWNLOAD_STATUS) {
    m->download = static_cast<DownloadState>(ev.u.download.state);
    if (m->download == DownloadState::kFailed) notice = "download: " + str(ev.detail);
  } else if (m->download == DownloadState::kNone || m->download == DownloadState::kRetrying) {
    m->download = DownloadState::kFetching;
  }
  if (ev.u.download.state != FERRY_DOWNLOAD_FETCHING || ev.type == FERRY_EVENT_DOWNLOAD_PROGRESS)
    m->download_done = ev.u.download.done;
  if (ev.u.download.total) m->download_total = ev.u.download.total;
  if (ev.u.download.path && *ev.u.download.path) m->download_path = ev.u.download.path;
  return true;
}

bool AppModel::apply(const ferry_event_t& ev) {
  bool changed = true;
  switch (ev.type) {
    case FERRY_EVENT_CONNECTION:
      conn_.state = ev.u.connection.state;
      conn_.status = ev.status;
      conn_.detail = str(ev.detail);
      if (conn_.state != FERRY_CONN_ONLINE) synced_ = false;
      break;
    case FERRY_EVENT_AUTH:
      if (ev.status == FERRY_OK) {
        // Another user logged in on this client: the last one's bubbles must go.
        if (!user_.empty() && user_ != str(ev.u.auth.user)) clear_conversations();
        user_ = str(ev.u.auth.user);
      }
      if (ev.request_id != 0 && ev.request_id == auth_request) {
        auth_result = ev.status;
        auth_detail = str(ev.detail);
      } else if (ev.status != FERRY_OK && ev.request_id == 0) {
        user_.clear();  // the stored session was rejected: log in again
      }
      break;
    case FERRY_EVENT_SYNCED:
      synced_ = true;
      break;
    case FERRY_EVENT_MESSAGE:
      changed = apply_message(ev.u.message, true);
      break;
    case FERRY_EVENT_MESSAGE_STATUS:
      changed = apply_status(ev);
      break;
    case FERRY_EVENT_HISTORY:
      changed = apply_history(ev);
      break;
    case FERRY_EVENT_UPLOAD_PROGRESS:
      changed = apply_upload_progress(ev);
      break;
    case FERRY_EVENT_DOWNLOAD_PROGRESS:
    case FERRY_EVENT_DOWNLOAD_STATUS:
      changed = apply_download(ev);
      break;
    case FERRY_EVENT_DOWNLOAD_URL:
      urls[ev.request_id] = ev.status == FERRY_OK ? str(ev.u.url.url) : "";
      if (ev.status != FERRY_OK) notice = "link: " + str(ev.detail);
      break;
    default:
      changed = false;
  }
  if (changed) revision++;
  return changed;
}

Message& AppModel::add_outgoing_text(const std::string& peer, const std::string& local_id,
                                     const std::string& text) {
  Conversation& c = conversation(peer);
  Message m;
  m.local_id = local_id;
  m.from = user_;
  m.to = peer;
  m.text = text;
  c.last_activity = std::max(c.last_activity, ++local_clock_);
  for (const auto& [p, other] : convs_)
    c.last_activity = std::max(c.last_activity, other.last_activity + 1);
  place(c, std::move(m));
  revision++;
  return c.messages.back();
}

Message& AppModel::add_outgoing_file(const std::string& peer, const std::string& local_id,
                                     const std::string& path, const std::string& name) {
  Message& m = add_outgoing_text(peer, local_id, "");
  m.kind = MediaKind::kFile;  // the PENDING status event says image/video once probed
  m.local_path = path;
  m.name = name;
  return m;
}

void AppModel::reset_for_retry(Message& m, const std::string& new_local_id) {
  peer_by_local_.erase(m.local_id);
  m.local_id = new_local_id;
  m.status = MsgStatus::kPending;
  m.error = 0;
  m.upload_done = 0;
  peer_by_local_[new_local_id] = peer_of(m.from, m.to);
  revision++;
}

}  // namespace ferry::gui
