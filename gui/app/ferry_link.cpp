#include "gui/app/ferry_link.h"

#include <sys/stat.h>

#include <fstream>
#include <set>
#include <vector>

namespace ferry::gui {

namespace {

// The conversation list is not something the server lists, so the app remembers the peers
// each user has talked to in a small file beside the SDK's database (gui-peers-USER.txt);
// their newest page is fetched after each login.

// A display name is never a path: keep only characters safe in a file name.
std::string safe_name(const std::string& name) {
  std::string out;
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_';
    out += ok ? ch : '_';
  }
  if (out.empty() || out[0] == '.') out = "file" + out;
  return out;
}

}  // namespace

FerryLink::~FerryLink() {
  save_peers();
  ferry_client_destroy(client_);
}

int FerryLink::start(const std::string& server, const std::string& state_dir, std::string* why) {
  state_dir_ = state_dir;
  ferry_options_t* opts = ferry_options_new();
  if (!opts) return FERRY_ENOMEM;
  int rc = ferry_options_set_server(opts, server.c_str());
  if (rc != FERRY_OK) *why = "bad --server '" + server + "': expected HOST:PORT";
  if (rc == FERRY_OK && !state_dir.empty())
    rc = ferry_options_set_state_dir(opts, state_dir.c_str());
  // A person is watching: retry a refused connection quickly rather than backing off to 10 s.
  if (rc == FERRY_OK) ferry_options_set_reconnect(opts, 200, 3000);
  if (rc == FERRY_OK) rc = ferry_client_new(opts, &client_);
  ferry_options_destroy(opts);
  if (rc != FERRY_OK) {
    if (why->empty()) *why = std::string("cannot start the client: ") + ferry_strerror(rc);
    return rc;
  }
  char name[64];
  if (ferry_client_user(client_, name, sizeof name) == FERRY_OK) model_.set_user(name);
  return FERRY_OK;
}

int FerryLink::event_fd() const { return client_ ? ferry_event_fd(client_) : -1; }

void FerryLink::find_earlier_download(uint64_t id) {
  Message* m = model_.find_id(id);
  if (!m || m->download != DownloadState::kNone || m->status != MsgStatus::kReady) return;
  std::string path = default_download_path(*m);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && uint64_t(st.st_size) == m->size) {
    m->download = DownloadState::kDone;  // downloaded by an earlier run of the app
    m->download_path = path;
    m->download_done = m->download_total = m->size;
  }
}

int FerryLink::drain() {
  int n = 0;
  ferry_event_t* ev = nullptr;
  std::vector<uint64_t> ready;
  while (client_ && ferry_poll_event(client_, &ev, 0) == FERRY_OK) {
    model_.apply(*ev);
    if (ev->type == FERRY_EVENT_MESSAGE || ev->type == FERRY_EVENT_MESSAGE_STATUS) {
      if (ev->u.message.status == FERRY_MSG_READY) ready.push_back(ev->u.message.id);
    } else if (ev->type == FERRY_EVENT_HISTORY) {
      for (size_t i = 0; i < ev->u.history.count; i++)
        if (ev->u.history.messages[i].media) ready.push_back(ev->u.history.messages[i].id);
    }
    ferry_event_free(ev);
    n++;
  }
  for (uint64_t id : ready) find_earlier_download(id);
  if (!model_.user().empty() && model_.user() != peers_user_) {
    if (!peers_user_.empty()) was_online_ = false;  // another user: fetch their pages too
    load_peers();
  }
  bool online = model_.connection().online() && !model_.user().empty();
  if (online && !was_online_) on_online();
  was_online_ = online;
  if (model_.conversation_count() != saved_peers_) save_peers();
  return n;
}

void FerryLink::on_online() {
  // Refresh each known conversation's newest page (what arrived while this app was closed
  // reaches it through the SDK's sync; this fills in the conversations' past).
  for (const Conversation* c : model_.conversations_by_activity()) {
    Conversation* mc = model_.find(c->peer);
    if (mc && mc->messages.empty()) load_older(*mc);
  }
}

int FerryLink::login(const std::string& user, const std::string& password, bool create) {
  uint64_t rid = 0;
  int rc = create ? ferry_register(client_, user.c_str(), password.c_str(), &rid)
                  : ferry_login(client_, user.c_str(), password.c_str(), &rid);
  model_.auth_request = rid;
  model_.auth_result = rc == FERRY_OK ? 1 : rc;
  model_.auth_detail = rc == FERRY_OK ? "" : ferry_strerror(rc);
  return rc;
}

void FerryLink::logout() {
  save_peers();
  ferry_logout(client_);
  model_.clear_conversations();  // the next user must not see this one's bubbles
  model_.set_user("");
  peers_user_.clear();
  saved_peers_ = 0;
}

int FerryLink::send_text(const std::string& peer, const std::string& text) {
  char id[FERRY_LOCAL_ID_SIZE];
  int rc = ferry_send_text(client_, peer.c_str(), text.c_str(), id);
  if (rc != FERRY_OK) {
    model_.notice = std::string("send: ") + ferry_strerror(rc);
    return rc;
  }
  model_.add_outgoing_text(peer, id, text);
  return rc;
}

int FerryLink::send_file(const std::string& peer, const std::string& path) {
  char id[FERRY_LOCAL_ID_SIZE];
  int rc = ferry_send_file(client_, peer.c_str(), path.c_str(), FERRY_KIND_AUTO, nullptr, id);
  if (rc != FERRY_OK) {
    model_.notice = "send " + path + ": " + ferry_strerror(rc);
    return rc;
  }
  size_t slash = path.find_last_of('/');
  model_.add_outgoing_file(peer, id, path,
                           slash == std::string::npos ? path : path.substr(slash + 1));
  return rc;
}

int FerryLink::retry(Message& m) {
  if (m.status != MsgStatus::kFailed || m.from != model_.user()) return FERRY_EINVAL;
  char id[FERRY_LOCAL_ID_SIZE];
  int rc = m.is_media() ? (m.local_path.empty()
                               ? FERRY_ENOFILE
                               : ferry_send_file(client_, m.to.c_str(), m.local_path.c_str(),
                                                 FERRY_KIND_AUTO, nullptr, id))
                        : ferry_send_text(client_, m.to.c_str(), m.text.c_str(), id);
  if (rc != FERRY_OK) {
    model_.notice = std::string("retry: ") + ferry_strerror(rc);
    return rc;
  }
  model_.reset_for_retry(m, id);
  return rc;
}

void FerryLink::load_older(Conversation& c) {
  if (c.history_pending || !c.more_history) return;
  uint64_t rid = 0;
  if (ferry_history(client_, c.peer.c_str(), c.oldest_id(), 50, &rid) == FERRY_OK)
    c.history_pending = true;
}

void FerryLink::open(const std::string& peer) {
  bool fresh = model_.find(peer) == nullptr;
  model_.open(peer);
  Conversation& c = model_.conversation(peer);
  if (fresh || c.messages.empty()) load_older(c);
}

int FerryLink::toggle_pause(Message& m) {
  // A download in progress (or paused) takes the click; else this client's own upload.
  if (m.download == DownloadState::kPaused) return ferry_download_resume(client_, m.id);
  if (m.download != DownloadState::kNone && m.download != DownloadState::kDone &&
      m.download != DownloadState::kFailed && m.download != DownloadState::kCancelled)
    return ferry_download_pause(client_, m.id);
  bool own_upload = m.from == model_.user() &&
                    (m.status == MsgStatus::kUploading || m.status == MsgStatus::kPending);
  if (!own_upload) return FERRY_ENOTFOUND;
  int rc = m.upload_paused ? ferry_upload_resume(client_, m.local_id.c_str())
                           : ferry_upload_pause(client_, m.local_id.c_str());
  if (rc == FERRY_OK) m.upload_paused = !m.upload_paused;
  return rc;
}

void FerryLink::cancel(Message& m) {
  if (m.from == model_.user() &&
      (m.status == MsgStatus::kUploading || m.status == MsgStatus::kPending)) {
    ferry_upload_cancel(client_, m.local_id.c_str());
  } else if (m.download != DownloadState::kNone && m.download != DownloadState::kDone) {
    ferry_download_cancel(client_, m.id);
  }
}

std::string FerryLink::default_download_path(const Message& m) const {
  return state_dir_ + "/downloads/" + std::to_string(m.id) + "-" + safe_name(m.name);
}

int FerryLink::download(Message& m, const std::string& dest) {
  if (m.status != MsgStatus::kReady || m.id == 0) return FERRY_ENOTREADY;
  std::string path = dest.empty() ? default_download_path(m) : dest;
  if (dest.empty()) ::mkdir((state_dir_ + "/downloads").c_str(), 0700);
  int rc = ferry_download(client_, m.id, path.c_str());
  if (rc != FERRY_OK) {
    model_.notice = std::string("download: ") + ferry_strerror(rc);
    return rc;
  }
  m.download = DownloadState::kFetching;
  m.download_path = path;
  return rc;
}

uint64_t FerryLink::request_link(const Message& m) {
  uint64_t rid = 0;
  if (m.id == 0 || ferry_download_url(client_, m.id, 0, &rid) != FERRY_OK) return 0;
  return rid;
}

std::string FerryLink::peers_path() const {
  return state_dir_ + "/gui-peers-" + safe_name(model_.user()) + ".txt";
}

void FerryLink::load_peers() {
  peers_user_ = model_.user();
  if (state_dir_.empty()) return;
  std::ifstream f(peers_path());
  std::string peer;
  while (std::getline(f, peer))
    if (!peer.empty()) model_.conversation(peer);
  saved_peers_ = model_.conversation_count();
}

void FerryLink::save_peers() {
  if (state_dir_.empty() || model_.user().empty() || model_.user() != peers_user_) return;
  std::ofstream f(peers_path(), std::ios::trunc);
  for (const Conversation* c : model_.conversations_by_activity()) f << c->peer << "\n";
  saved_peers_ = model_.conversation_count();
}

}  // namespace ferry::gui
