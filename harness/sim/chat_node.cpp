// ChatNode: ChatCore driven as servers/chat/uv/server.cpp drives it, over the simulated
// network, with password hashing answered at once by a deterministic fake (PBKDF2 would cost
// real CPU for nothing the simulator checks).
#include "harness/sim/nodes.h"
#include "proto/hex.h"

namespace ferry::sim {

void ChatNode::start(int64_t now) {
  chat::CoreConfig cfg;
  cfg.kdf_iterations = 1000;
  cfg.secret_key = env_.key;
  Prng& rng = env_.rng;
  cfg.random_bytes = [&rng](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng.next());
    return s;
  };
  core_ = std::make_unique<chat::ChatCore>(store_, cfg);
  env_.trace.line(now, "chat: start");
}

void ChatNode::crash(bool silent, int64_t now) {
  core_.reset();  // the uncommitted group-commit batch dies with it
  env_.net.crash(kChatNode, silent, now);
  env_.trace.line(now, std::string("chat: crash") + (silent ? " (silent)" : ""));
}

void ChatNode::on_net(const NetEvent& e, int64_t now) {
  switch (e.kind) {
    case NetEvent::Kind::Accepted:
      core_->on_open(e.link, now);
      break;
    case NetEvent::Kind::Data:
      core_->on_bytes(e.link, e.bytes.data(), e.bytes.size(), now);
      break;
    case NetEvent::Kind::Closed:
      core_->on_close(e.link);
      break;
    case NetEvent::Kind::Connected:
    case NetEvent::Kind::ConnectFailed:
      break;  // chatd never dials
  }
  pump(now);
}

int64_t ChatNode::next_timeout() const { return core_->poll_timeout(); }

void ChatNode::on_timer(int64_t now) {
  core_->handle_timeout(now);
  pump(now);
}

void ChatNode::pump(int64_t now) {
  for (int round = 0; round < 100; round++) {
    core_->flush(now);
    chat::HashJob job;
    bool any = false;
    while (core_->poll_hash_job(job)) {
      std::string hash =
          proto::sha256(job.salt + "|" + job.password + "|" + std::to_string(job.iterations));
      core_->on_hash_done(job.id, hash, now);
      any = true;
    }
    chat::ConnId id;
    std::string bytes;
    while (core_->poll_send(id, bytes)) env_.net.write(id, kChatNode, std::move(bytes), now);
    while (core_->poll_close(id)) {
      env_.net.close(id, kChatNode, now);
      core_->on_close(id);
    }
    if (!any) return;
  }
}

}  // namespace ferry::sim
