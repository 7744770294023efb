// The simulated network (see net.h for the model and why it is shaped like TCP).
#include "harness/sim/net.h"

#include <algorithm>

namespace ferry::sim {

Network::Network(NetConfig config, Prng& rng, std::function<bool(NodeId)> node_up)
    : config_(config), rng_(rng), node_up_(std::move(node_up)) {}

LinkId Network::dial(NodeId from, NodeId to, int64_t now) {
  LinkId id = next_id_++;
  Link& l = links_[id];
  l.node[0] = from;
  l.node[1] = to;
  if (partitioned(from, to, now)) {
    // The SYN is lost for longer than the kernel retries: the dial times out. The acceptor
    // never hears of it.
    l.open[1] = false;
    Seg s;
    s.at = now + config_.connect_timeout_ms;
    s.kind = SegKind::Rst;
    l.pipe[1].q.push_back(std::move(s));
    l.pipe[1].last_at = now + config_.connect_timeout_ms;
    return id;
  }
  push(l, 0, SegKind::Syn, {}, now);
  return id;
}

void Network::write(LinkId link, NodeId node, std::string bytes, int64_t now) {
  auto it = links_.find(link);
  if (it == links_.end() || bytes.empty()) return;
  Link& l = it->second;
  int side = l.node[0] == node ? 0 : 1;
  if (!l.open[side]) return;
  // TCP may hand the reader any split; the decoders must not care.
  if (bytes.size() > 1 && rng_.chance(config_.split_prob)) {
    size_t cut = static_cast<size_t>(rng_.range(1, bytes.size() - 1));
    push(l, side, SegKind::Data, bytes.substr(0, cut), now);
    bytes.erase(0, cut);
  }
  push(l, side, SegKind::Data, std::move(bytes), now);
}

void Network::close(LinkId link, NodeId node, int64_t now) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  Link& l = it->second;
  int side = l.node[0] == node ? 0 : 1;
  if (!l.open[side]) return;
  l.open[side] = false;
  l.pipe[1 - side].q.clear();  // nobody reads them any more
  push(l, side, SegKind::Fin, {}, now);
  collect(link);
}

void Network::cut(LinkId link, int64_t now) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  Link& l = it->second;
  for (int d = 0; d < 2; d++) {
    l.pipe[d].q.clear();
    l.pipe[d].last_at = 0;
  }
  for (int d = 0; d < 2; d++) {
    if (l.open[d]) push(l, 1 - d, SegKind::Rst, {}, now);  // to side d
  }
  collect(link);
}

void Network::reset_side(Link& l, int side) {
  l.open[side] = false;
  l.pipe[1 - side].q.clear();
}

void Network::crash(NodeId node, bool silent, int64_t now) {
  std::vector<LinkId> ids;
  for (auto& [id, l] : links_) {
    for (int s = 0; s < 2; s++) {
      if (l.node[s] != node || !l.open[s]) continue;
      reset_side(l, s);
      if (!silent && l.open[1 - s]) push(l, s, SegKind::Rst, {}, now);
    }
    ids.push_back(id);
  }
  for (LinkId id : ids) collect(id);
}

void Network::partition(NodeId a, NodeId b, int64_t now, int64_t until) {
  partitions_.push_back({a, b, now, until});
  for (auto& [id, l] : links_) {
    if (held_until(l.node[0], l.node[1], now) <= now) continue;
    for (Pipe& p : l.pipe) {
      for (Seg& s : p.q) s.at = std::max(s.at, until + config_.latency_ms);
      if (!p.q.empty()) p.last_at = std::max(p.last_at, p.q.back().at);
    }
  }
}

int64_t Network::held_until(NodeId a, NodeId b, int64_t t) const {
  int64_t until = 0;
  for (const Partition& p : partitions_) {
    if (t < p.from || t >= p.until) continue;
    bool hit = (p.a == a && (p.b == b || p.b == -1)) || (p.a == b && (p.b == a || p.b == -1));
    if (hit) until = std::max(until, p.until);
  }
  return until;
}

bool Network::partitioned(NodeId a, NodeId b, int64_t now) const {
  return held_until(a, b, now) > now;
}

void Network::push(Link& l, int dir, SegKind kind, std::string bytes, int64_t now) {
  Pipe& p = l.pipe[dir];
  int64_t at = now + config_.latency_ms;
  if (config_.jitter_ms > 0) at += static_cast<int64_t>(rng_.range(0, config_.jitter_ms));
  int64_t wire = static_cast<int64_t>(bytes.size()) / config_.bytes_per_ms;
  at = std::max(at, p.last_at + wire);
  int64_t held = held_until(l.node[dir], l.node[1 - dir], now);
  if (held > now) at = std::max(at, held + config_.latency_ms);
  p.last_at = at;
  p.q.push_back(Seg{at, kind, std::move(bytes)});
}

int64_t Network::next_time() const {
  int64_t t = kNever;
  for (const auto& [id, l] : links_) {
    for (const Pipe& p : l.pipe) {
      if (!p.q.empty()) t = std::min(t, p.q.front().at);
    }
  }
  return t;
}

bool Network::pop(int64_t now, NetEvent& out) {
  // Segments that reach nobody (data for a closed side, a SYN-ACK for a dialer that gave up)
  // are consumed here; the loop goes on to the next due segment.
  for (;;) {
    if (pop_one(now, out)) return true;
    if (next_time() > now) return false;
  }
}

bool Network::pop_one(int64_t now, NetEvent& out) {
  Link* best = nullptr;
  LinkId best_id = 0;
  int best_dir = 0;
  for (auto& [id, l] : links_) {
    for (int d = 0; d < 2; d++) {
      if (l.pipe[d].q.empty() || l.pipe[d].q.front().at > now) continue;
      if (!best || l.pipe[d].q.front().at < best->pipe[best_dir].q.front().at) {
        best = &l;
        best_id = id;
        best_dir = d;
      }
    }
  }
  if (!best) return false;
  Link& l = *best;
  int r = 1 - best_dir;
  Seg s = std::move(l.pipe[best_dir].q.front());
  l.pipe[best_dir].q.pop_front();
  NodeId node = l.node[r];
  bool delivered = false;
  out = NetEvent{};
  out.link = best_id;
  out.node = node;
  switch (s.kind) {
    case SegKind::Syn:
      if (!l.open[1]) break;
      if (!node_up_(node)) {  // refused
        l.open[1] = false;
        push(l, 1, SegKind::Rst, {}, now);
        break;
      }
      l.established[1] = true;
      push(l, 1, SegKind::SynAck, {}, now);
      out.kind = NetEvent::Kind::Accepted;
      delivered = true;
      break;
    case SegKind::SynAck:
      if (!l.open[0]) break;
      l.established[0] = true;
      out.kind = NetEvent::Kind::Connected;
      delivered = true;
      break;
    case SegKind::Data:
      if (l.open[r]) {
        out.kind = NetEvent::Kind::Data;
        out.bytes = std::move(s.bytes);
        delivered = true;
      } else if (node_up_(node) && l.open[best_dir]) {
        // A host that forgot the connection (it rebooted) answers with an RST.
        push(l, r, SegKind::Rst, {}, now);
      }
      break;
    case SegKind::Fin:
    case SegKind::Rst:
      if (!l.open[r]) break;
      out.kind = l.established[r] ? NetEvent::Kind::Closed : NetEvent::Kind::ConnectFailed;
      reset_side(l, r);
      l.pipe[r].q.clear();
      delivered = true;
      break;
  }
  collect(best_id);
  return delivered;
}

void Network::collect(LinkId id) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  const Link& l = it->second;
  if (!l.open[0] && !l.open[1] && l.pipe[0].q.empty() && l.pipe[1].q.empty()) links_.erase(it);
}

std::vector<LinkId> Network::live_links() const {
  std::vector<LinkId> out;
  for (const auto& [id, l] : links_) {
    if (l.open[0] && l.open[1] && l.established[0] && l.established[1]) out.push_back(id);
  }
  return out;
}

bool Network::established(LinkId link, NodeId node) const {
  auto it = links_.find(link);
  if (it == links_.end()) return false;
  int side = it->second.node[0] == node ? 0 : 1;
  return it->second.open[side] && it->second.established[side];
}

}  // namespace ferry::sim
