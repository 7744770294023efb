// ResdNode: ResdCore driven as servers/resource/uv/server.cpp drives it, with its jobs run by
// the FakeDisk and its chat link dialled over the simulated network. A restart loads what
// FileStore::scan() would find (FakeDisk::load_into).
#include <algorithm>

#include "harness/sim/nodes.h"

namespace ferry::sim {

void ResdNode::start(int64_t now) {
  resource::ResdConfig cfg;
  cfg.key = env_.key;
  cfg.link_enabled = true;
  cfg.link.key = env_.key;
  cfg.link.advertise = "resd.sim:7421";
  core_ = std::make_unique<resource::ResdCore>(cfg);
  disk_.load_into(*core_, now);
  link_ = 0;
  env_.trace.line(now, "resd: start");
  pump(now);
}

void ResdNode::crash(bool silent, int64_t now) {
  core_.reset();
  disk_.crash();
  env_.net.crash(kResdNode, silent, now);
  link_ = 0;
  env_.trace.line(now, std::string("resd: crash") + (silent ? " (silent)" : ""));
}

void ResdNode::on_net(const NetEvent& e, int64_t now) {
  if (link_ != 0 && e.link == link_) {
    switch (e.kind) {
      case NetEvent::Kind::Connected:
        core_->link_on_connected(now);
        break;
      case NetEvent::Kind::Data:
        core_->link_on_bytes(e.bytes.data(), e.bytes.size(), now);
        break;
      case NetEvent::Kind::ConnectFailed:
      case NetEvent::Kind::Closed:
        link_ = 0;
        core_->link_on_closed(now);
        env_.trace.line(now, "resd: chat link down");
        break;
      case NetEvent::Kind::Accepted:
        break;
    }
    return pump(now);
  }
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
      break;  // an old link attempt this core no longer knows
  }
  pump(now);
}

int64_t ResdNode::next_timeout() const {
  int64_t t = std::min(core_->poll_timeout(), disk_.next_time());
  // The link's reconnect is polled (link_connect_due), not a timeout of its own.
  return t;
}

void ResdNode::on_timer(int64_t now) {
  resource::JobResult r;
  while (disk_.pop(now, r)) core_->on_job_done(std::move(r), now);
  if (now >= core_->poll_timeout()) core_->handle_timeout(now);
  pump(now);
}

void ResdNode::pump(int64_t now) {
  if (link_ == 0 && core_->link_connect_due(now)) {
    link_ = env_.net.dial(kResdNode, kChatNode, now);
    core_->link_on_connecting(now);
  }
  resource::Job job;
  while (core_->poll_job(job)) disk_.submit(std::move(job), now);
  resource::ConnId id;
  std::string bytes;
  while (core_->poll_send(id, bytes)) {
    env_.checker.on_resd_bytes(id, bytes, disk_);
    env_.net.write(id, kResdNode, std::move(bytes), now);
  }
  while (core_->poll_close(id)) {
    env_.net.close(id, kResdNode, now);
    core_->on_close(id);
  }
  while (core_->link_poll_send(bytes)) {
    if (link_ != 0) env_.net.write(link_, kResdNode, std::move(bytes), now);
  }
  if (core_->link_poll_close()) {
    if (link_ != 0) env_.net.close(link_, kResdNode, now);
    link_ = 0;
    core_->link_on_closed(now);
  }
  std::string line;
  while (core_->poll_log(line)) env_.trace.line(now, "resd: " + line);
}

}  // namespace ferry::sim
