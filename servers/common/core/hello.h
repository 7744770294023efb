// The connection-level frames both servers speak the same way, sans-I/O: checking a client's
// HELLO, building the server's HELLO answer and ERROR bodies, and draining the per-connection
// output and close queues. Each core keeps its own Conn type and its own state changes (chat
// hands out a peer_auth challenge and routes; resd resizes its frame reader); only the
// wire-level bytes and the queue walk live here, so the two servers cannot drift apart on them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::server {

// What a client's HELLO body failed on: `code` is the ERROR code to send fatally
// ("bad_hello" or "version_mismatch"), `message` the human-readable reason.
struct HelloProblem {
  const char* code = nullptr;
  std::string message;
};

// Checks a client's HELLO body: a JSON object with only "proto" (which must equal
// proto::kProtocolVersion) and an optional string "agent". Returns true when it is good;
// otherwise fills `problem` for the caller's fatal().
bool hello_check(std::string_view body, HelloProblem& problem);

// The fields of the server's HELLO answer. `challenge` is omitted from the body when empty.
struct HelloReply {
  const char* server = "";  // "ferry-chatd/0.1.0"
  uint64_t max_frame = 0;
  int64_t heartbeat_ms = 0;
  int64_t idle_timeout_ms = 0;
  std::string challenge;
};

// The JSON body of the server's HELLO frame, in the field order both servers have always sent.
std::string hello_reply_body(const HelloReply& reply);

// The JSON body of an ERROR frame: {"code", "message", "fatal"}.
std::string error_body(const char* code, const std::string& message, bool fatal);

// Output queues, shared shape: `dirty` lists connections with output in first-output order
// and `pos` is the drain's progress through it (an index instead of erase-from-front keeps a
// drain O(connections); entries appended while draining are still reached). `find(id)`
// returns the core's Conn* (with `bool dirty` and `std::string out`) or null once it is gone.
// Returns the next connection's bytes, or false (and resets the list) when all is drained.
template <class Find>
bool outbox_poll_send(std::vector<uint64_t>& dirty, size_t& pos, Find&& find, uint64_t& conn,
                      std::string& bytes) {
  while (pos < dirty.size()) {
    uint64_t id = dirty[pos++];
    auto* c = find(id);
    if (!c || !c->dirty) continue;
    c->dirty = false;
    if (c->out.empty()) continue;
    conn = id;
    bytes.clear();
    bytes.swap(c->out);
    return true;
  }
  dirty.clear();
  pos = 0;
  return false;
}

// The next connection in `closing` that still exists (the poll functions skip ids of
// connections already gone).
template <class Find>
bool outbox_poll_close(std::vector<uint64_t>& closing, Find&& find, uint64_t& conn) {
  while (!closing.empty()) {
    uint64_t id = closing.back();
    closing.pop_back();
    if (!find(id)) continue;
    conn = id;
    return true;
  }
  return false;
}

}  // namespace ferry::server
