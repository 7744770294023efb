// MemChatStore (see chat_store_mem.h for why it exists and what it promises).
#include "harness/sim/chat_store_mem.h"

#include <algorithm>

namespace ferry::sim {

using chat::MessageStatus;
using chat::StoredMessage;

chat::StoreStatus MemChatStore::create_user(const std::string& name, const std::string& salt,
                                            const std::string& hash, uint32_t iterations,
                                            uint64_t& id_out) {
  if (user_id(name) != 0) return StoreStatus::Exists;
  id_out = next_user_++;
  users_[id_out] = chat::UserRecord{id_out, name, salt, hash, iterations};
  return StoreStatus::Ok;
}

uint64_t MemChatStore::user_id(const std::string& name) const {
  for (const auto& [id, u] : users_) {
    if (u.name == name) return id;
  }
  return 0;
}

chat::StoreStatus MemChatStore::find_user_by_name(const std::string& name, chat::UserRecord& out) {
  uint64_t id = user_id(name);
  if (id == 0) return StoreStatus::NotFound;
  out = users_[id];
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::find_user_by_id(uint64_t id, chat::UserRecord& out) {
  auto it = users_.find(id);
  if (it == users_.end()) return StoreStatus::NotFound;
  out = it->second;
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::create_session(const std::string& token_hash, uint64_t user_id,
                                               int64_t) {
  sessions_[token_hash] = user_id;
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::find_session(const std::string& token_hash, uint64_t& user_id_out) {
  auto it = sessions_.find(token_hash);
  if (it == sessions_.end()) return StoreStatus::NotFound;
  user_id_out = it->second;
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::delete_session(const std::string& token_hash) {
  sessions_.erase(token_hash);
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::put_messages(const std::vector<chat::NewMessage>& batch, int64_t ts,
                                             std::vector<chat::PutOutcome>& out) {
  out.clear();
  out.resize(batch.size());
  for (size_t i = 0; i < batch.size(); i++) {
    const chat::NewMessage& m = batch[i];
    auto dup = by_cid_.find({m.sender, m.cid});
    if (dup != by_cid_.end()) {
      out[i].message = messages_[dup->second];
      out[i].result =
          chat::same_send(out[i].message, m) ? chat::PutResult::Duplicate : chat::PutResult::Conflict;
      continue;
    }
    StoredMessage s;
    s.id = next_message_++;
    s.sender = m.sender;
    s.receiver = m.receiver;
    s.cid = m.cid;
    s.kind = m.kind;
    s.text = m.text;
    s.ts = ts;
    s.has_media = m.has_media;
    s.media = m.media;
    if (m.has_media) {
      bool instant = !m.media.sha256.empty() && ready_copy(m.sender, m.media);
      s.status = instant ? MessageStatus::Ready : MessageStatus::Uploading;
      s.progress = instant ? m.media.size : 0;
    }
    messages_[s.id] = s;
    by_cid_[{m.sender, m.cid}] = s.id;
    out[i].result = chat::PutResult::Inserted;
    out[i].message = s;
  }
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::sync(uint64_t user, uint64_t since, uint32_t limit,
                                     std::vector<StoredMessage>& out, bool& more) {
  out.clear();
  more = false;
  for (auto it = messages_.upper_bound(since); it != messages_.end(); ++it) {
    const StoredMessage& m = it->second;
    if (m.sender != user && m.receiver != user) continue;
    if (out.size() == limit) {
      more = true;
      break;
    }
    out.push_back(m);
  }
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::history(uint64_t a, uint64_t b, uint64_t before, uint32_t limit,
                                        std::vector<StoredMessage>& out, bool& more) {
  out.clear();
  more = false;
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    const StoredMessage& m = it->second;
    if (before != 0 && m.id >= before) continue;
    bool pair = (m.sender == a && m.receiver == b) || (m.sender == b && m.receiver == a);
    if (!pair) continue;
    if (out.size() == limit) {
      more = true;
      break;
    }
    out.push_back(m);
  }
  std::reverse(out.begin(), out.end());
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::find_message(uint64_t id, StoredMessage& out) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return StoreStatus::NotFound;
  out = it->second;
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::finish_upload(uint64_t id, MessageStatus to, int64_t now_ms) {
  auto it = messages_.find(id);
  if (it == messages_.end() || it->second.status != MessageStatus::Uploading) {
    return StoreStatus::NotFound;
  }
  it->second.status = to;
  if (to == MessageStatus::Ready) it->second.progress = it->second.media.size;
  status_ms_[id] = now_ms;
  return StoreStatus::Ok;
}

bool MemChatStore::ready_copy(uint64_t sender, const chat::MediaInfo& media) const {
  return std::any_of(messages_.begin(), messages_.end(), [&](const auto& e) {
    const StoredMessage& o = e.second;
    return o.sender == sender && o.status == MessageStatus::Ready &&
           o.media.sha256 == media.sha256 && o.media.size == media.size;
  });
}

chat::StoreStatus MemChatStore::bind_hash(uint64_t id, const std::string& sha256, int64_t now_ms,
                                          StoredMessage& out) {
  auto it = messages_.find(id);
  if (it == messages_.end() || it->second.status != MessageStatus::Uploading ||
      !it->second.media.sha256.empty()) {
    return StoreStatus::NotFound;
  }
  StoredMessage& m = it->second;
  m.media.sha256 = sha256;
  if (ready_copy(m.sender, m.media)) finish_upload(id, MessageStatus::Ready, now_ms);
  out = m;
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::set_progress(uint64_t id, uint64_t progress) {
  auto it = messages_.find(id);
  if (it == messages_.end() || it->second.status != MessageStatus::Uploading ||
      progress <= it->second.progress) {
    return StoreStatus::NotFound;
  }
  it->second.progress = progress;
  return StoreStatus::Ok;
}

chat::StoreStatus MemChatStore::cancelled_since(int64_t since_ms, std::vector<uint64_t>& ids) {
  ids.clear();
  for (const auto& [id, m] : messages_) {
    auto t = status_ms_.find(id);
    if (m.status == MessageStatus::Cancelled && t != status_ms_.end() && t->second >= since_ms) {
      ids.push_back(id);
    }
  }
  return StoreStatus::Ok;
}

}  // namespace ferry::sim
