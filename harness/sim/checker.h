// The invariants a run must keep. Safety is checked as the run goes (every acknowledgement
// the resource server emits is checked against the fake disk at that moment) and at the end
// (messages against the chat store and what each app saw; stored files against their
// sources). Liveness is the world's job: it asks all_done() and fails the run when the
// deadline after the last fault passes first.
//
// What "the sender saw acknowledged" means: a MESSAGE_STATUS event with status SENT (texts)
// or READY (uploads) reached the app. What "the receiver has it" means: a MESSAGE event.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "harness/sim/chat_store_mem.h"
#include "harness/sim/disk.h"
#include "harness/sim/net.h"
#include "harness/sim/workload.h"
#include "proto/frame.h"
#include "sdk/core/types.h"

namespace ferry::sim {

class Checker {
 public:
  Checker(const Workload& w, std::vector<std::string> users, std::string key);

  // An event a client's core handed to its app.
  void on_event(int client, const sdk::Event& e);
  // Bytes of control frames a client wrote on its resource connection (UPLOAD_OPEN names the
  // upload behind a slot).
  void on_client_resource_bytes(LinkId link, std::string_view bytes);
  // Bytes the resource server wrote to a client: every chunk it calls durable must be.
  void on_resd_bytes(LinkId link, std::string_view bytes, const FakeDisk& disk);
  // Bytes chatd wrote to client `client` on its chat connection: counts the times a sync page
  // or message push carried that device's own upload (which it must not deliver).
  void on_chat_bytes(int client, LinkId link, std::string_view bytes);

  bool all_done() const;
  // The checks that need the run to be over. Appends to violations().
  void final_check(const MemChatStore& store, const FakeDisk& disk, const Sources& sources);

  // The resource server's disk, for checks of progress the apps are told (set once).
  void set_disk(const FakeDisk* disk) { disk_ = disk; }
  void fail(std::string what) { violations_.push_back(std::move(what)); }
  const std::vector<std::string>& violations() const { return violations_; }
  // What is still missing, for the liveness failure message.
  std::string pending_summary() const;
  uint64_t chunks_acked() const { return chunks_acked_; }
  // Times chatd handed a device its own upload (in a sync page or a push). Each of them must
  // be recognised as this device's send and never delivered as a FERRY_EVENT_MESSAGE.
  uint64_t own_upload_returns() const { return own_upload_returns_; }
  // A client dialled an extra resource connection (a lane above 0) for its uploads.
  void on_extra_lane() { extra_lanes_++; }
  uint64_t extra_lanes() const { return extra_lanes_; }

 private:
  struct Seen {
    uint64_t acked_id = 0;  // SENT (texts) or UPLOADING/READY (uploads): the server id
    bool ready = false;     // uploads
    bool failed = false;
    std::string detail;
  };

  bool own_upload(int client, const std::string& cid) const;
  // Whether client `c` must get a message sent by client `from` to user `to` as a MESSAGE:
  // it is a device of the receiver, or another device of the sender.
  bool expects(int c, int from, int to) const;
  bool got(int c, uint64_t id) const;
  // The sending device of a planned cid, or -1.
  int sender_of(const std::string& cid) const;
  void on_ack(uint64_t message_id, uint64_t index, const FakeDisk& disk, const char* how);

  const Workload& w_;
  std::vector<std::string> users_;    // per client (device): the user name it logs in as
  std::string key_;                   // verifies tickets, to learn which upload a slot names
  std::map<std::string, Seen> sent_;  // by cid (cids are unique per run)
  std::vector<std::vector<sdk::Message>> received_;  // per client, in delivery order
  std::map<LinkId, std::unique_ptr<proto::FrameDecoder>> client_dec_, resd_dec_, chat_dec_;
  std::map<std::pair<LinkId, uint32_t>, uint64_t> slots_;  // (link, slot) -> message id
  std::map<uint64_t, std::set<uint64_t>> reported_;        // message id -> chunks called durable
  uint64_t chunks_acked_ = 0;
  uint64_t own_upload_returns_ = 0;
  uint64_t extra_lanes_ = 0;
  const FakeDisk* disk_ = nullptr;
  std::vector<std::string> violations_;
};

}  // namespace ferry::sim
