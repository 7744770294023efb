// Seeded simulation of the whole upload path: the real sender window (sdk/core) and the real
// chunk ledger (servers/resource/core), talking real encoded frames over a simulated link
// that loses, duplicates, reorders, delays and corrupts them, with a disk whose writes can
// fail and a resource server that crashes and restarts from its last persisted ledger blob.
//
// Safety, checked on every step:
// - a chunk is written only with the sender's bytes, and never rewritten with other bytes;
// - after a crash the restored ledger holds every chunk the client ever saw acked, and the
//   client's progress never goes backwards (it restarts from at least what it saw acked);
// - the window never has more than max_inflight_bytes in flight (beyond a single chunk).
// Liveness: once faults stop (a per-seed virtual time), every upload finishes within a
// bounded number of steps and virtual time, and each file on the "disk" is byte-identical to
// its source, verified by the ledger's whole-file check.
//
// Every run is a pure function of its seed (one std::mt19937_64, a virtual clock, no
// threads). A failure prints the seed; rerun it alone with FERRY_SIM_SEED=<seed>.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <queue>
#include <random>

#include "proto/hex.h"
#include "proto/chunk_sum.h"
#include "proto/upload_frames.h"
#include "sdk/core/upload_window.h"
#include "servers/resource/core/chunk_ledger.h"

using namespace ferry;

namespace {

// Faults stop at a per-seed time in [kFaultEndMinMs, kFaultEndMaxMs]; by kLivenessMs after
// that every upload must be finished.
constexpr uint64_t kFaultEndMinMs = 300;
constexpr uint64_t kFaultEndMaxMs = 10'000;
constexpr uint64_t kLivenessMs = 120'000;
constexpr uint64_t kMaxSteps = 2'000'000;

proto::Sha256 sha(std::string_view data) {
  std::string d = proto::sha256(data);
  proto::Sha256 h;
  std::copy(d.begin(), d.end(), h.begin());
  return h;
}

proto::ChunkSum sum(std::string_view data) { return proto::chunk_sum(data.data(), data.size()); }

struct Ev {
  enum class Kind { ToServer, ToClient, WriteDone, PersistDone, Crash, Reconnect };
  uint64_t at = 0;
  uint64_t seq = 0;
  Kind kind = Kind::ToServer;
  uint64_t epoch = 0;  // connection epoch (packets) or server epoch (disk completions)
  uint32_t upload = 0;
  uint64_t index = 0;  // WriteDone
  uint64_t generation = 0;  // PersistDone
  bool ok = true;  // WriteDone
  std::string data;  // frame, written payload or blob
};

struct Later {
  bool operator()(const Ev& a, const Ev& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

struct Upload {
  std::string source;
  uint32_t chunk_size = 0;
  proto::Sha256 file_hash{};
  std::string disk;  // the server's preallocated file
  std::optional<resource::ChunkLedger> ledger;
  std::optional<std::string> persisted;  // last blob the adapter stored durably
  std::vector<bool> client_acked;  // chunks an ack or UPLOAD_STATE called durable
  std::map<uint64_t, std::string> written;  // index -> bytes written there (first time)
  uint64_t last_progress = 0;
  bool client_complete = false;
  bool server_done = false;
};

// Fault counters summed over all seeds, so the test can prove the faults really happened.
struct SimStats {
  uint64_t crashes = 0;
  uint64_t restored_chunks = 0;  // durable chunks brought back by restore() after a crash
  uint64_t corrupted = 0;
  uint64_t bad_hash_nacks = 0;
  uint64_t retransmits = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t write_failures = 0;
  uint64_t uploads = 0;
  uint64_t bytes = 0;
};

class Sim {
 public:
  Sim(uint64_t seed, SimStats& stats) : rng_(seed), stats_(stats) {
    fault_end_ms_ = uni(kFaultEndMinMs, kFaultEndMaxMs);
    loss_ = pick({0.0, 0.02, 0.1, 0.25, 0.5});
    dup_ = pick({0.0, 0.05, 0.2});
    corrupt_ = pick({0.0, 0.03, 0.1});
    write_fail_ = pick({0.0, 0.02});
    delay_ms_ = uni(1, 40);
    jitter_ms_ = uni(0, 60);
    cfg_.initial_cwnd = static_cast<uint32_t>(uni(1, 8));
    cfg_.max_cwnd = static_cast<uint32_t>(uni(2, 32));
    cfg_.initial_rto_ms = 300;
    cfg_.min_rto_ms = 50;
    cfg_.max_rto_ms = 4000;
    cfg_.max_timeouts = 0;  // the link always recovers here; giving up is tested elsewhere
    cfg_.max_inflight_bytes = uni(1, 4096);
    size_t n = uni(1, 3);
    for (uint32_t u = 0; u < n; u++) add_upload(u);
    window_.emplace(cfg_);
    for (uint32_t u = 0; u < n; u++) open(u);
    for (uint64_t crashes = uni(0, 3); crashes > 0; crashes--) {
      Ev e;
      e.kind = Ev::Kind::Crash;
      push(uni(0, fault_end_ms_), std::move(e));
    }
  }

  // Runs to completion or failure; returns a description of the first violation.
  std::string run() {
    for (uint64_t step = 0; step < kMaxSteps; step++) {
      if (!error_.empty()) return error_;
      pump_client();
      if (all_done()) return check_final();
      std::optional<uint64_t> timer = window_->poll_timeout();
      if (timer && (q_.empty() || *timer <= q_.top().at)) {
        now_ = std::max(now_, *timer);
        window_->handle_timeout(now_);
      } else if (!q_.empty()) {
        Ev e = q_.top();
        q_.pop();
        now_ = std::max(now_, e.at);
        handle(e);
      } else {
        return "stuck: nothing in flight, no timer, uploads unfinished";
      }
      if (now_ > fault_end_ms_ + kLivenessMs) {
        return "not finished " + std::to_string(now_) + " ms in";
      }
    }
    return "step bound exceeded";
  }

 private:
  uint64_t uni(uint64_t lo, uint64_t hi) { return lo + rng_() % (hi - lo + 1); }
  bool chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1p-53 < p; }
  double pick(std::initializer_list<double> xs) { return xs.begin()[uni(0, xs.size() - 1)]; }
  bool faulty() const { return now_ < fault_end_ms_; }

  void add_upload(uint32_t u) {
    Upload& up = uploads_[u];
    up.chunk_size = static_cast<uint32_t>(pick({1, 7, 64, 256}));
    size_t size = uni(0, 150) * up.chunk_size + uni(0, up.chunk_size - 1);
    if (uni(0, 9) == 0) size = 0;
    up.source.resize(size);
    for (char& c : up.source) c = static_cast<char>(rng_());
    up.file_hash = sha(up.source);
    up.disk.assign(size, '\0');
    up.ledger.emplace(size, up.chunk_size, up.file_hash);
    up.client_acked.assign(up.ledger->total_chunks(), false);
    drain_server(u);
  }

  // UPLOAD_OPEN -> UPLOAD_STATE, through the codec. The reply rides the fresh connection
  // (the simulated link only damages the bulk traffic).
  void open(uint32_t u) {
    Upload& up = uploads_[u];
    if (up.client_complete) return;
    std::string wire;
    proto::encode_upload_state(wire, up.ledger->upload_state(u));
    proto::UploadState state;
    std::string err;
    if (!proto::decode_upload_state(std::string_view(wire).substr(5), state, err)) {
      error_ = "UPLOAD_STATE did not decode: " + err;
      return;
    }
    // What UPLOAD_STATE claims is a promise too: it must survive the next crash.
    for (auto& r : state.held) {
      for (uint64_t i = r.start; i < r.end; i++) up.client_acked[i] = true;
    }
    if (!window_->add_upload(state, now_)) error_ = "add_upload refused";
  }

  void push(uint64_t at, Ev e) {
    e.at = at;
    e.seq = seq_++;
    q_.push(std::move(e));
  }

  // The lossy link: drop, duplicate, corrupt (CHUNK payloads only: the hash must catch it),
  // and deliver after a jittered delay, which reorders.
  void send(Ev::Kind kind, std::string frame) {
    int copies = 1;
    if (faulty() && chance(loss_)) copies = 0;
    if (faulty() && chance(dup_)) copies++;
    stats_.dropped += copies == 0;
    stats_.duplicated += copies == 2;
    for (int i = 0; i < copies; i++) {
      Ev e;
      e.kind = kind;
      e.epoch = conn_epoch_;
      e.data = frame;
      if (faulty() && kind == Ev::Kind::ToServer && chance(corrupt_) &&
          e.data.size() > proto::kChunkFramePrefixBytes) {
        size_t at = uni(proto::kChunkFramePrefixBytes, e.data.size() - 1);
        e.data[at] = static_cast<char>(e.data[at] ^ (1 << uni(0, 7)));
        stats_.corrupted++;
      }
      push(now_ + delay_ms_ + uni(0, jitter_ms_), std::move(e));
    }
  }

  void pump_client() {
    while (auto s = window_->poll_send(now_)) {
      Upload& up = uploads_[s->slot];
      stats_.retransmits += s->retransmit;
      if (window_->in_flight_chunks() > window_->cwnd()) error_ = "sent past cwnd";
      if (window_->in_flight_bytes() > cfg_.max_inflight_bytes &&
          window_->in_flight_chunks() > 1) {
        error_ = "in-flight bytes " + std::to_string(window_->in_flight_bytes()) + " > cap";
      }
      std::string_view bytes = std::string_view(up.source).substr(s->offset, s->length);
      std::string frame;
      proto::encode_chunk(frame, s->slot, s->index, sum(bytes), bytes);
      send(Ev::Kind::ToServer, std::move(frame));
    }
    while (auto e = window_->poll_event()) {
      Upload& up = uploads_[e->slot];
      switch (e->kind) {
        case sdk::UploadEventKind::Progress:
        case sdk::UploadEventKind::Complete:
          if (e->bytes_durable < up.last_progress) {
            error_ = "progress went back from " + std::to_string(up.last_progress) + " to " +
                     std::to_string(e->bytes_durable);
          }
          up.last_progress = e->bytes_durable;
          if (e->kind == sdk::UploadEventKind::Complete) up.client_complete = true;
          break;
        case sdk::UploadEventKind::Failed:
        case sdk::UploadEventKind::Cancelled:
          error_ = "upload " + std::to_string(e->slot) + " failed: " + e->detail;
          break;
      }
    }
  }

  void handle(Ev& e) {
    switch (e.kind) {
      case Ev::Kind::ToServer:
        if (e.epoch == conn_epoch_) server_recv(e.data);
        break;
      case Ev::Kind::ToClient:
        if (e.epoch == conn_epoch_) client_recv(e.data);
        break;
      case Ev::Kind::WriteDone:
        if (e.epoch == server_epoch_) write_done(e);
        break;
      case Ev::Kind::PersistDone:
        if (e.epoch == server_epoch_) {
          uploads_[e.upload].persisted = e.data;
          uploads_[e.upload].ledger->on_persisted(e.generation);
          drain_server(e.upload);
        }
        break;
      case Ev::Kind::Crash:
        crash();
        break;
      case Ev::Kind::Reconnect:
        conn_epoch_++;  // a fresh connection: nothing of an earlier one arrives on it
        window_.emplace(cfg_);
        for (auto& [u, up] : uploads_) open(u);
        break;
    }
  }

  void server_recv(const std::string& frame) {
    proto::Chunk c;
    std::string err;
    if (!proto::decode_chunk(std::string_view(frame).substr(5), c, err)) {
      error_ = "CHUNK did not decode: " + err;
      return;
    }
    auto it = uploads_.find(c.slot);
    if (it == uploads_.end()) {
      error_ = "chunk for unknown slot";
      return;
    }
    it->second.ledger->on_chunk(c.index, c.payload.size(), c.hash, sum(c.payload));
    pending_payload_ = c.payload;  // a Write can only be for the chunk just fed
    drain_server(c.slot);
  }

  void write_done(Ev& e) {
    Upload& up = uploads_[e.upload];
    bool ok = e.ok;
    if (ok) {
      uint64_t off = e.index * up.chunk_size;
      if (e.data != std::string_view(up.source).substr(off, e.data.size())) {
        error_ = "chunk " + std::to_string(e.index) + " written with bytes the sender never sent";
      }
      auto [w, fresh] = up.written.emplace(e.index, e.data);
      if (!fresh && w->second != e.data) error_ = "chunk rewritten with different content";
      up.disk.replace(off, e.data.size(), e.data);
    }
    up.ledger->on_write_done(e.index, ok);
    drain_server(e.upload);
  }

  void drain_server(uint32_t u) {
    Upload& up = uploads_[u];
    while (auto a = up.ledger->poll_action()) {
      switch (a->kind) {
        case resource::LedgerAction::Kind::Write: {
          Ev e;
          e.kind = Ev::Kind::WriteDone;
          e.epoch = server_epoch_;
          e.upload = u;
          e.index = a->index;
          e.ok = !(faulty() && chance(write_fail_));
          stats_.write_failures += !e.ok;
          e.data = std::string(pending_payload_);
          if (e.data.size() != a->length) error_ = "Write length differs from the chunk";
          push(now_ + uni(0, 5), std::move(e));
          break;
        }
        case resource::LedgerAction::Kind::Persist: {
          Ev e;
          e.kind = Ev::Kind::PersistDone;
          e.epoch = server_epoch_;
          e.upload = u;
          e.generation = a->generation;
          e.data = std::move(a->blob);
          push(now_ + uni(1, 10), std::move(e));
          break;
        }
        case resource::LedgerAction::Kind::Ack: {
          a->ack.slot = u;
          std::string frame;
          proto::encode_chunk_ack(frame, a->ack);
          send(Ev::Kind::ToClient, std::move(frame));
          break;
        }
        case resource::LedgerAction::Kind::Verify:
          up.ledger->on_verified(sha(up.disk) == up.file_hash);
          break;
        case resource::LedgerAction::Kind::Done:
          if (!a->ok) error_ = "server found the whole file corrupt";
          up.server_done = a->ok;
          break;
      }
    }
  }

  void client_recv(const std::string& frame) {
    proto::ChunkAck ack;
    std::string err;
    if (!proto::decode_chunk_ack(std::string_view(frame).substr(5), ack, err)) {
      error_ = "CHUNK_ACK did not decode: " + err;
      return;
    }
    Upload& up = uploads_[ack.slot];
    for (auto& nack : ack.nacks) stats_.bad_hash_nacks += nack.reason == proto::NackReason::BadHash;
    uint64_t n = up.client_acked.size();
    for (uint64_t i = 0; i < std::min(ack.cumulative, n); i++) up.client_acked[i] = true;
    for (auto& r : ack.selective) {
      for (uint64_t i = r.start; i < std::min(r.end, n); i++) up.client_acked[i] = true;
    }
    window_->on_ack(ack, now_);
  }

  // kill -9 of the resource server: in-flight frames, writes and persists vanish; the
  // ledger comes back from the last blob the adapter stored; the client reconnects later.
  void crash() {
    conn_epoch_++;
    server_epoch_++;
    stats_.crashes++;
    for (auto& [u, up] : uploads_) {
      if (up.persisted) {
        std::string err;
        if (!resource::ChunkLedger::restore(*up.persisted, up.ledger, err)) {
          error_ = "restore failed: " + err;
          return;
        }
      } else {
        up.ledger.emplace(up.source.size(), up.chunk_size, up.file_hash);
      }
      stats_.restored_chunks += up.ledger->durable_chunks();
      for (uint64_t i = 0; i < up.client_acked.size(); i++) {
        if (up.client_acked[i] && !up.ledger->is_durable(i)) {
          error_ = "chunk " + std::to_string(i) + " was acked but lost in the crash";
        }
      }
      drain_server(u);  // a complete ledger verifies again
    }
    window_.emplace(cfg_);  // the connection is gone; the window dies with it
    Ev e;
    e.kind = Ev::Kind::Reconnect;
    push(now_ + uni(10, 1000), std::move(e));
  }

  bool all_done() const {
    for (auto& [u, up] : uploads_) {
      if (!up.client_complete || !up.server_done) return false;
    }
    return true;
  }

  std::string check_final() {
    for (auto& [u, up] : uploads_) {
      if (up.disk != up.source) return "upload " + std::to_string(u) + " differs on disk";
      if (up.last_progress != up.source.size()) return "final progress short";
      stats_.uploads++;
      stats_.bytes += up.source.size();
    }
    return {};
  }

  std::mt19937_64 rng_;
  SimStats& stats_;
  uint64_t fault_end_ms_;
  double loss_, dup_, corrupt_, write_fail_;
  uint64_t delay_ms_, jitter_ms_;
  sdk::UploadWindowConfig cfg_;
  std::optional<sdk::UploadWindow> window_;
  std::map<uint32_t, Upload> uploads_;
  std::priority_queue<Ev, std::vector<Ev>, Later> q_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t conn_epoch_ = 0;
  uint64_t server_epoch_ = 0;
  std::string_view pending_payload_;
  std::string error_;
};

}  // namespace

TEST(upload_sim, seeded_faults_then_recovery) {
  std::vector<uint64_t> seeds;
  if (const char* one = std::getenv("FERRY_SIM_SEED")) {
    seeds.push_back(std::strtoull(one, nullptr, 10));
  } else {
    for (uint64_t s = 1; s <= 200; s++) seeds.push_back(s * 0x9e3779b97f4a7c15ull);
  }
  SimStats st;
  for (uint64_t seed : seeds) {
    std::string error = Sim(seed, st).run();
    ASSERT_EQ(error, "") << "seed " << seed << " (rerun: FERRY_SIM_SEED=" << seed << ")";
  }
  std::printf("sim: %zu seeds, %lu uploads, %lu bytes; faults: %lu crashes (%lu chunks restored), "
              "%lu dropped, %lu duplicated, %lu corrupted (%lu bad_hash NACKs seen), "
              "%lu write failures, %lu retransmits\n",
              seeds.size(), st.uploads, st.bytes, st.crashes, st.restored_chunks, st.dropped,
              st.duplicated, st.corrupted, st.bad_hash_nacks, st.write_failures, st.retransmits);
  if (seeds.size() > 1) {  // the full run must actually exercise every fault
    EXPECT_GT(st.crashes, 50u);
    EXPECT_GT(st.restored_chunks, 100u);
    EXPECT_GT(st.dropped, 100u);
    EXPECT_GT(st.duplicated, 100u);
    EXPECT_GT(st.corrupted, 50u);
    EXPECT_GT(st.bad_hash_nacks, 20u);
    EXPECT_GT(st.write_failures, 10u);
    EXPECT_GT(st.retransmits, 500u);
  }
}
