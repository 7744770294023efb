// The simulated network: what TCP plus ferry's reconnect logic can do to a byte stream.
//
// A link is one TCP connection between two nodes. Each direction is an ordered pipe: bytes
// arrive in the order they were written, in arbitrary splits, after a latency with jitter and
// behind the bytes before them (a bandwidth cap makes big writes queue). What can go wrong:
//   - cut: the connection is reset; bytes in flight are lost and both ends see it closed
//     (after a latency), as a middlebox RST or a NAT timeout would do;
//   - partition: everything between two nodes (or around one node) is held back until the
//     partition heals, which is what TCP's retransmissions turn packet loss into. A side that
//     gives up meanwhile (heartbeat/idle timeout) closes; its FIN is held too;
//   - a node crash: its sockets die; the peers get an RST (process crash) or nothing at all
//     (host crash: the peers learn it from their own timeouts, or from the RST the rebooted
//     host sends when their bytes reach it);
//   - dialing a node that is down is refused; dialing through a partition times out.
// Frames are never lost, duplicated, corrupted or reordered inside a connection: TCP does not
// allow it. Reordering happens only where the protocol allows it, across connections (the
// resource server's upload_done on its chat link against the client's own chat connection),
// and comes from each link's independent latency.
//
// Everything is driven by the world: next_time() says when something is due, pop() hands out
// due events one at a time in a deterministic order (time, then link id, then direction).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "harness/sim/prng.h"

namespace ferry::sim {

using NodeId = int;
using LinkId = uint64_t;
inline constexpr int64_t kNever = INT64_MAX;

struct NetEvent {
  enum class Kind {
    Accepted,       // to the acceptor: a new connection (the link id names it)
    Connected,      // to the dialer: the connection is up
    ConnectFailed,  // to the dialer: refused or timed out
    Data,           // bytes arrived
    Closed,         // the peer closed (FIN after its data) or the connection was reset
  };
  Kind kind = Kind::Data;
  LinkId link = 0;
  NodeId node = 0;  // who receives the event
  std::string bytes;
};

struct NetConfig {
  int64_t latency_ms = 5;  // one way
  int64_t jitter_ms = 0;   // added at random per write, never reordering a pipe
  int64_t bytes_per_ms = 1 << 20;
  int64_t connect_timeout_ms = 10000;  // a SYN into a partition
  double split_prob = 0.3;             // a write arrives in two reads
};

class Network {
 public:
  Network(NetConfig config, Prng& rng, std::function<bool(NodeId)> node_up);

  LinkId dial(NodeId from, NodeId to, int64_t now);
  // Ignored once `node`'s side is closed.
  void write(LinkId link, NodeId node, std::string bytes, int64_t now);
  // Orderly close by `node`: the peer sees Closed after the data already written.
  void close(LinkId link, NodeId node, int64_t now);

  // Faults.
  void cut(LinkId link, int64_t now);
  // Every open link of the node dies; `silent` (host crash) sends the peers nothing.
  void crash(NodeId node, bool silent, int64_t now);
  // Holds all traffic between a and b (b = -1: between a and everyone) until `until`.
  void partition(NodeId a, NodeId b, int64_t now, int64_t until);
  bool partitioned(NodeId a, NodeId b, int64_t now) const;

  int64_t next_time() const;
  bool pop(int64_t now, NetEvent& out);

  // Links with both sides still open, in id order (for picking a link to cut).
  std::vector<LinkId> live_links() const;
  bool established(LinkId link, NodeId node) const;

 private:
  enum class SegKind { Syn, SynAck, Data, Fin, Rst };
  struct Seg {
    int64_t at = 0;
    SegKind kind = SegKind::Data;
    std::string bytes;
  };
  struct Pipe {
    std::deque<Seg> q;
    int64_t last_at = 0;
  };
  struct Link {
    NodeId node[2] = {0, 0};  // [0] dialer, [1] acceptor
    bool open[2] = {true, true};
    bool established[2] = {false, false};
    Pipe pipe[2];  // pipe[i] carries bytes from node[i] to node[1 - i]
  };
  struct Partition {
    NodeId a, b;
    int64_t from, until;
  };

  int64_t held_until(NodeId a, NodeId b, int64_t t) const;
  void push(Link& l, int dir, SegKind kind, std::string bytes, int64_t now);
  void reset_side(Link& l, int side);
  bool pop_one(int64_t now, NetEvent& out);
  void collect(LinkId id);

  NetConfig config_;
  Prng& rng_;
  std::function<bool(NodeId)> node_up_;
  std::map<LinkId, Link> links_;
  std::vector<Partition> partitions_;
  LinkId next_id_ = 1;
};

}  // namespace ferry::sim
