// ClientNode: the SDK's ClientCore (with its UploadManager) driven as sdk/uv/uv_driver.cpp and
// sdk/uv/upload_io.cpp drive it: the chat connection, the resource connections (every lane the
// UploadManager asks for, as UploadIo dials them), the file
// side of uploads (prepare = whole-file hash, read = chunk bytes + hash) answered at once from
// the Sources, and every app event handed to the checker. The app's part is played too:
// writing the outbox entry / upload record to the state store before submitting, as the
// API layer does (ferry_send_text returns only once the entry is stored).
#include <algorithm>

#include "harness/sim/nodes.h"
#include "proto/chunk_sum.h"
#include "sdk/include/ferry.h"

namespace ferry::sim {

namespace {

std::string event_line(const sdk::Event& e) {
  static const char* const kTypes[] = {"?",      "connection", "auth",   "message",
                                       "status", "history",    "synced", "progress"};
  static const char* const kStatus[] = {"?",         "pending", "sent",     "failed",
                                        "uploading", "ready",   "cancelled"};
  std::string s = e.type >= 1 && e.type <= 7 ? kTypes[e.type] : "event " + std::to_string(e.type);
  if (e.type == FERRY_EVENT_CONNECTION) s += " state " + std::to_string(e.conn_state);
  if (e.status != 0) s += " error " + std::to_string(e.status);
  if (!e.message.cid.empty() || e.message.id != 0) {
    int st = e.message.status;
    s += " id " + std::to_string(e.message.id) + " cid " + e.message.cid + " from " +
         e.message.from + " " + (st >= 1 && st <= 6 ? kStatus[st] : "?");
  }
  if (!e.detail.empty()) s += " (" + e.detail + ")";
  return s;
}

}  // namespace

void ClientNode::trace(int64_t now, const std::string& what) {
  env_.trace.line(now, user_ + (login_ ? "/2" : "") + ": " + what);  // "/2": second device
}

void ClientNode::start(int64_t now) {
  sdk::CoreConfig cfg;
  // The simulated files are 1-8 chunks: probe for extra lanes with as little as two chunks
  // waiting and decide on one, so lanes come and go in most runs.
  cfg.uploads.lanes.min_waiting_chunks = 2;
  cfg.uploads.lanes.min_interval_chunks = 1;
  cfg.uploads.lanes.min_interval_ms = 20;
  cfg.uploads.lanes.backoff_min_ms = 100;
  cfg.uploads.hash_later_min_bytes = env_.hash_later ? 1 : 0;
  Prng& rng = env_.rng;
  core_ = std::make_unique<sdk::ClientCore>(cfg, store_,
                                            [&rng] { return static_cast<uint32_t>(rng.next()); });
  chat_ = 0;
  // Lane-capable before the first input, like UploadIo: uploads spread over extra lanes when
  // the LaneController's measurements say so, and lanes die with crashes and cuts.
  core_->uploads().set_lane_capable();
  res_.assign(core_->uploads().lane_slots(), 0);
  trace(now, "start");
  core_->start(static_cast<uint64_t>(now));
  if (!registered_) {
    registered_ = true;
    if (login_) {
      core_->submit_login(1, user_, "correct horse", static_cast<uint64_t>(now));
    } else {
      core_->submit_register(1, user_, "correct horse", static_cast<uint64_t>(now));
    }
  }
  pump(now);
}

void ClientNode::crash(bool silent, int64_t now) {
  core_.reset();
  hashing_.clear();  // its worker died with it
  env_.net.crash(node_, silent, now);
  chat_ = 0;
  res_.assign(res_.size(), 0);
  trace(now, std::string("crash") + (silent ? " (silent)" : ""));
}

void ClientNode::submit_text(const TextPlan& t, const std::string& to, int64_t now) {
  sdk::OutboxEntry e;
  e.cid = t.cid;
  e.to = to;
  e.text = t.text;
  e.created_ms = now;
  store_.outbox_add(e);
  trace(now, "send " + t.cid + " to " + to);
  core_->submit_send(e, static_cast<uint64_t>(now));
  pump(now);
}

void ClientNode::submit_upload(const UploadPlan& u, const std::string& to, int64_t now) {
  sdk::PendingUpload p;
  p.cid = u.cid;
  p.to = to;
  p.path = "/files/" + u.cid;
  p.name = u.cid + ".bin";
  p.kind = FERRY_KIND_FILE;
  p.size = u.size;
  p.mtime_ns = 1;
  p.inode = static_cast<uint64_t>(index_ + 1);
  p.created_ms = now;
  files_[p.path] = u.sha256;
  store_.upload_put(p);
  trace(now, "send file " + u.cid + " (" + std::to_string(u.size) + " bytes) to " + to);
  core_->submit_upload(p, static_cast<uint64_t>(now));
  pump(now);
}

void ClientNode::on_net(const NetEvent& e, int64_t now) {
  uint64_t t = static_cast<uint64_t>(now);
  if (chat_ != 0 && e.link == chat_) {
    switch (e.kind) {
      case NetEvent::Kind::Connected:
        core_->on_connected(t);
        break;
      case NetEvent::Kind::ConnectFailed:
        chat_ = 0;
        core_->on_connect_failed(FERRY_ECONNREFUSED, "connection refused", t);
        break;
      case NetEvent::Kind::Closed:
        chat_ = 0;
        core_->on_disconnected(FERRY_ECLOSED, "connection closed", t);
        break;
      case NetEvent::Kind::Data:
        env_.checker.on_chat_bytes(index_, e.link, e.bytes);
        core_->on_bytes(e.bytes.data(), e.bytes.size(), t);
        break;
      case NetEvent::Kind::Accepted:
        break;
    }
  } else if (auto lane = std::find(res_.begin(), res_.end(), e.link);
             e.link != 0 && lane != res_.end()) {
    sdk::UploadManager& m = core_->uploads();
    uint32_t l = static_cast<uint32_t>(lane - res_.begin());
    switch (e.kind) {
      case NetEvent::Kind::Connected:
        m.on_connected(l, t);
        break;
      case NetEvent::Kind::ConnectFailed:
        *lane = 0;
        m.on_connect_failed(l, FERRY_ECONNREFUSED, "connection refused", t);
        break;
      case NetEvent::Kind::Closed:
        *lane = 0;
        m.on_disconnected(l, FERRY_ECLOSED, "connection closed", t);
        break;
      case NetEvent::Kind::Data:
        m.on_bytes(l, e.bytes.data(), e.bytes.size(), t);
        break;
      case NetEvent::Kind::Accepted:
        break;
    }
  }
  pump(now);
}

int64_t ClientNode::next_timeout() const {
  std::optional<uint64_t> t = core_->poll_timeout();
  return t ? static_cast<int64_t>(*t) : kNever;
}

void ClientNode::on_timer(int64_t now) {
  core_->handle_timeout(static_cast<uint64_t>(now));
  pump(now);
}

// A lane's control frames (OPEN, CANCEL, PING...) onto its connection, before any chunk.
void ClientNode::flush_lane(uint32_t lane, int64_t now) {
  std::string out = core_->uploads().poll_send(lane);
  if (out.empty() || res_[lane] == 0) return;
  env_.checker.on_client_resource_bytes(res_[lane], out);
  env_.net.write(res_[lane], node_, std::move(out), now);
}

// The upload side of one adapter step; true if it fed the manager anything.
bool ClientNode::pump_uploads(int64_t now) {
  uint64_t t = static_cast<uint64_t>(now);
  sdk::UploadManager& m = core_->uploads();
  bool fed = false;
  while (std::optional<uint32_t> lane = m.poll_close_lane()) {
    if (*lane < res_.size() && res_[*lane] != 0) env_.net.close(res_[*lane], node_, now);
    if (*lane < res_.size()) res_[*lane] = 0;
  }
  while (std::optional<sdk::UploadManager::Dial> d = m.poll_connect_lane()) {
    if (d->lane >= res_.size()) continue;
    if (res_[d->lane] != 0) env_.net.close(res_[d->lane], node_, now);
    res_[d->lane] = env_.net.dial(node_, kResdNode, now);
    if (d->lane > 0) env_.checker.on_extra_lane();
  }
  for (uint32_t l = 0; l < res_.size(); l++) flush_lane(l, now);
  while (std::optional<sdk::PrepareJob> job = m.poll_prepare()) {
    sdk::PrepareResult r;
    if (job->hash) r.sha256 = files_.at(job->path);
    r.mime = "application/octet-stream";
    r.kind = FERRY_KIND_FILE;
    m.on_prepared(job->cid, r, t);
    fed = true;
  }
  while (std::optional<sdk::PrepareJob> job = m.poll_hash()) {
    // 0-6 pumps, from the file's size: no PRNG draw, so hash-first seeds are untouched.
    hashing_.push_back({job->cid, job->path, static_cast<int>(job->size % 7)});
  }
  for (size_t i = 0; i < hashing_.size();) {
    if (hashing_[i].pumps_left-- > 0) {
      i++;
      continue;
    }
    sdk::PrepareResult r;
    r.sha256 = files_.at(hashing_[i].path);
    std::string cid = hashing_[i].cid;
    hashing_.erase(hashing_.begin() + static_cast<long>(i));
    m.on_hashed(cid, r, t);
    fed = true;
  }
  // One chunk per lane per turn, as UploadIo reads them.
  for (bool any = true; any;) {
    any = false;
    for (uint32_t l = 0; l < res_.size(); l++) {
      if (res_[l] == 0 || !env_.net.established(res_[l], node_)) continue;
      std::optional<sdk::ReadJob> job = m.poll_read(t, l);
      if (!job) continue;
      any = fed = true;
      const std::string& sha = files_.at(job->path);
      std::string_view src(*env_.sources.find(sha));
      std::string_view bytes = src.substr(job->offset, job->length);
      proto::ChunkSum hash = proto::chunk_sum(bytes.data(), bytes.size());
      uint8_t prefix[proto::kChunkFramePrefixBytes];
      if (!m.on_read_done(job->id, FERRY_OK, "", hash, prefix, t)) continue;
      flush_lane(l, now);
      std::string frame(reinterpret_cast<const char*>(prefix), sizeof prefix);
      frame.append(bytes);
      env_.net.write(res_[l], node_, std::move(frame), now);
    }
  }
  while (m.poll_file_close()) {
    // The simulated files need no handle; the real adapter closes its fd here.
  }
  return fed;
}

void ClientNode::pump(int64_t now) {
  uint64_t t = static_cast<uint64_t>(now);
  for (int round = 0; round < 100; round++) {
    bool again = false;
    core_->pump_uploads(t);
    std::string out = core_->poll_send();
    if (!out.empty() && chat_ != 0) env_.net.write(chat_, node_, std::move(out), now);
    if (core_->poll_close() && chat_ != 0) {
      env_.net.close(chat_, node_, now);
      chat_ = 0;
    }
    if (core_->poll_connect()) {
      if (chat_ != 0) env_.net.close(chat_, node_, now);
      chat_ = env_.net.dial(node_, kChatNode, now);
      again = true;
    }
    if (pump_uploads(now)) again = true;
    sdk::Event e;
    while (core_->poll_event(e)) {
      if (e.type == FERRY_EVENT_AUTH && e.status == FERRY_OK) authenticated_ = true;
      if (e.type != FERRY_EVENT_UPLOAD_PROGRESS) trace(now, event_line(e));
      env_.checker.on_event(index_, e);
    }
    if (!again) return;
  }
}

}  // namespace ferry::sim
