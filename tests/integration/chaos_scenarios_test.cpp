// What: issue 5 §3's real-process scenarios through ferry-chaos. Real ferry-chatd, ferry-resd
// and `ferry` CLI processes on 127.0.0.1; a ferry-chaos proxy in front of the resource server
// (upload scenarios) or the chat server (message scenarios) injects one kind of fault (or a mix)
// with a fixed seed. Uploads must finish READY with the stored file's SHA-256 equal to the
// source's; messages are checked the Jepsen way: every text whose `ferry send` exited 0 is in
// the server's history exactly once, and nothing is there that was never sent.
// How: the servers run with short idle timeouts (--idle-timeout-ms) so a half-open connection
// is noticed within seconds; every process is stopped by its pid (Process, ChaosProcess); each
// scenario prints one line and writes a JSON report (chaos_support.h). No duration is asserted:
// deadlines are generous and only guard against hangs. Replay a scenario's proxy with the seed
// it prints (docs/harness.md).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tests/integration/chaos_support.h"
#include "tests/integration/upload_e2e_support.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMiB = 1 << 20;

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A scenario's seed; FERRY_CHAOS_SEED overrides it to explore or replay other seeds.
uint64_t seed_or_env(uint64_t seed) {
  const char* env = std::getenv("FERRY_CHAOS_SEED");
  return env && *env ? std::strtoull(env, nullptr, 10) : seed;
}

std::string tail(const std::string& text, size_t n = 3000) {
  return text.size() > n ? "..." + text.substr(text.size() - n) : text;
}

// ferry-chatd and ferry-resd in a TempDir; resd advertises the ferry-chaos proxy in front of
// it, so every SDK upload connection goes through the proxy. The chat connection is direct.
struct UploadRig {
  TempDir dir;
  Process chatd, resd;
  ChaosProcess chaos;
  CliUser alice, bob;

  bool start(uint64_t seed, const std::vector<std::string>& faults) {
    if (!chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                      dir.sub("chat"), "--secret-file", dir.sub("secret.key"),
                      "--kdf-iterations", "1000", "--idle-timeout-ms", "3000"}))
      return ADD_FAILURE() << "ferry-chatd did not start", false;
    int chaos_port = free_port();
    if (!resd.start({bin_path("ferry-resd"), "--listen", "127.0.0.1:0", "--data", dir.sub("res"),
                     "--secret-file", dir.sub("secret.key"), "--chat", chatd.address(),
                     "--advertise", "127.0.0.1:" + std::to_string(chaos_port),
                     "--idle-timeout-ms", "1500"}))
      return ADD_FAILURE() << "ferry-resd did not start", false;
    if (!chaos.start(dir.path(), "chaos", chaos_port, resd.port(), seed, faults))
      return ADD_FAILURE() << "ferry-chaos did not start", false;
    alice = {chatd.address(), dir.sub("alice")};
    bob = {chatd.address(), dir.sub("bob")};
    RunResult r = alice.run({"register", "alice", "alice-password"});
    if (r.status != 0) return ADD_FAILURE() << "register alice: " << r.err, false;
    r = bob.run({"register", "bob", "bob-password"});
    if (r.status != 0) return ADD_FAILURE() << "register bob: " << r.err, false;
    return true;
  }
  std::string stored_path(const std::string& sha) const {
    return dir.sub("res") + "/files/" + sha.substr(0, 2) + "/" + sha;
  }
};

// Uploads a `size`-byte file from alice to bob through the proxy; `during` may act on the rig
// while the sender runs. Returns the report (already emitted); failures are gtest failures.
ScenarioReport upload_scenario(const std::string& name, uint64_t seed,
                               const std::vector<std::string>& faults, uint64_t size,
                               const std::function<void(UploadRig&, Process&)>& during = {}) {
  ScenarioReport rep;
  rep.name = name;
  rep.seed = seed = seed_or_env(seed);
  rep.file_size = size;
  UploadRig rig;
  if (!rig.start(seed, faults)) return rep;
  std::string file = rig.dir.sub("source.bin");
  write_noise_file(file, size, seed);
  std::string sha = sha256_file(file);
  std::string log = rig.dir.sub("send.log");
  auto t0 = std::chrono::steady_clock::now();
  Process sender;
  EXPECT_TRUE(sender.spawn(rig.alice.argv({"send-file", "bob", file, "--json", "--timeout", "90"}),
                           log));
  if (during) during(rig, sender);
  int status = sender.wait(120000);
  rep.seconds = since(t0);
  rep.chaos_summary = rig.chaos.stop();
  rep.bytes_sent = summary_num(rep.chaos_summary, "up", "bytes_in");
  rep.bytes_resent = rep.bytes_sent > size ? rep.bytes_sent - size : 0;
  uint64_t conns = summary_num(rep.chaos_summary, "", "connections");
  rep.resumes = conns > 0 ? conns - 1 : 0;
  bool stored = fs::exists(rig.stored_path(sha)) && sha256_file(rig.stored_path(sha)) == sha;
  rep.hash_check = stored ? "ok" : "MISMATCH";
  rep.emit(rig.dir.path());
  std::string out = read_text(log);
  EXPECT_EQ(status, 0) << "sender:\n" << tail(out) << "\nchaos log:\n" << tail(read_text(rig.chaos.log_path()));
  bool ready = false;
  for (const JsonLine& l : json_lines(out))
    ready = ready || (l.is("status") && l.str("status") == "READY");
  EXPECT_TRUE(ready) << tail(out);
  EXPECT_TRUE(stored) << "resd did not store a file with the source's SHA-256 " << sha;
  return rep;
}

// ferry-chatd with a ferry-chaos proxy in front; alice and bob registered directly.
struct ChatRig {
  TempDir dir;
  Process chatd;
  ChaosProcess chaos;
  CliUser alice, bob;  // direct
  CliUser alice_via, bob_via;  // through the proxy
  uint64_t clients_via = 0;  // CLI processes run through the proxy (one connection each)

  bool start(uint64_t seed, const std::vector<std::string>& faults) {
    if (!chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                      dir.sub("chat"), "--kdf-iterations", "1000", "--idle-timeout-ms", "1500"}))
      return ADD_FAILURE() << "ferry-chatd did not start", false;
    if (!chaos.start(dir.path(), "chaos", 0, chatd.port(), seed, faults))
      return ADD_FAILURE() << "ferry-chaos did not start", false;
    alice = {chatd.address(), dir.sub("alice")};
    bob = {chatd.address(), dir.sub("bob")};
    alice_via = {chaos.address(), alice.state};
    bob_via = {chaos.address(), bob.state};
    RunResult r = alice.run({"register", "alice", "alice-password"});
    if (r.status != 0) return ADD_FAILURE() << "register alice: " << r.err, false;
    r = bob.run({"register", "bob", "bob-password"});
    if (r.status != 0) return ADD_FAILURE() << "register bob: " << r.err, false;
    return true;
  }
};

std::vector<std::string> texts_of(const std::string& out) {
  std::vector<std::string> v;
  for (const JsonLine& l : json_lines(out))
    if (l.is("message") && l.str("from") == "alice") v.push_back(l.str("text"));
  return v;
}

struct ChatOptions {
  int messages = 10;
  // bob reads his messages with `listen` through the proxy; false: directly (for faults a
  // live connection cannot recover from, see chaos_chat.drop).
  bool listen_via_proxy = true;
  std::function<void(ChatRig&, MessageCheck&)> before;  // e.g. a send during a blackhole
};

// alice sends `messages` texts through the proxy, one `ferry send` each; whatever was not
// acknowledged goes out with a last direct send (the outbox). Then the server's history (read
// directly) and bob's `listen` (through the proxy or directly) are checked the Jepsen way.
ScenarioReport chat_scenario(const std::string& name, uint64_t seed,
                             const std::vector<std::string>& faults, const ChatOptions& opt = {}) {
  ScenarioReport rep;
  rep.name = name;
  rep.seed = seed = seed_or_env(seed);
  ChatRig rig;
  if (!rig.start(seed, faults)) return rep;
  MessageCheck check;
  auto t0 = std::chrono::steady_clock::now();
  if (opt.before) opt.before(rig, check);
  for (int i = 0; i < opt.messages; i++) {
    std::string text = name + "-" + std::to_string(i);
    check.attempted.push_back(text);
    rig.clients_via++;
    RunResult r = rig.alice_via.run({"send", "bob", text, "--timeout", "3"}, 60000);
    if (r.status == 0) check.acked.push_back(text);
  }
  std::string flush = name + "-flush";
  check.attempted.push_back(flush);
  RunResult fr = rig.alice.run({"send", "bob", flush, "--timeout", "30"}, 60000);
  EXPECT_EQ(fr.status, 0) << fr.err;
  if (fr.status == 0) check.acked.push_back(flush);

  RunResult h = rig.bob.run({"history", "alice", "--json", "--limit", "1000"}, 60000);
  EXPECT_EQ(h.status, 0) << h.err;
  std::vector<std::string> stored = texts_of(h.out);
  check.evaluate(stored);
  rep.messages = check.attempted.size();
  rep.acked = check.acked.size();
  rep.lost = check.lost;
  rep.duplicated = check.duplicated;
  rep.unexpected = check.unexpected;

  MessageCheck via = check;
  std::string listen_out;
  {
    if (opt.listen_via_proxy) rig.clients_via++;
    const CliUser& reader = opt.listen_via_proxy ? rig.bob_via : rig.bob;
    RunResult l = reader.run({"listen", "--json", "--count", std::to_string(stored.size()),
                              "--timeout", "30"},
                             60000);
    listen_out = l.out + l.err;
    EXPECT_EQ(l.status, 0) << "bob's listen did not see all " << stored.size()
                           << " messages:\n" << tail(listen_out);
    via.evaluate(texts_of(l.out));
    rep.lost += via.lost;
    rep.duplicated += via.duplicated;
    rep.unexpected += via.unexpected;
  }
  rep.seconds = since(t0);
  rep.chaos_summary = rig.chaos.stop();
  rep.bytes_sent = summary_num(rep.chaos_summary, "up", "bytes_in");
  uint64_t conns = summary_num(rep.chaos_summary, "", "connections");
  rep.resumes = conns > rig.clients_via ? conns - rig.clients_via : 0;
  rep.emit(rig.dir.path());
  EXPECT_EQ(check.lost, 0u) << "acknowledged but missing from the server's history";
  EXPECT_EQ(check.duplicated, 0u) << "stored more than once:\n" << h.out;
  EXPECT_EQ(check.unexpected, 0u) << h.out;
  EXPECT_EQ(via.lost, 0u) << "acknowledged but not delivered to bob's listen:\n" << tail(listen_out);
  EXPECT_EQ(via.duplicated, 0u) << "delivered twice to bob's listen:\n" << tail(listen_out);
  EXPECT_EQ(via.unexpected, 0u) << tail(listen_out);
  return rep;
}

uint64_t both(const ScenarioReport& r, const std::string& key) {
  return summary_num(r.chaos_summary, "up", key) + summary_num(r.chaos_summary, "down", key);
}

}  // namespace

// ---- uploads through a proxy in front of ferry-resd ----

TEST(chaos_upload, drop) {
  auto r = upload_scenario("upload_drop", 3, {"--drop", "0.1"}, 6 * kMiB);
  EXPECT_GT(both(r, "drop"), 0u) << "the seed injected no drop: pick another";
}

TEST(chaos_upload, dup) {
  auto r = upload_scenario("upload_dup", 4, {"--dup", "0.3"}, 6 * kMiB);
  EXPECT_GT(both(r, "dup"), 0u);
}

TEST(chaos_upload, reorder) {
  auto r = upload_scenario("upload_reorder", 5, {"--reorder", "0.3"}, 6 * kMiB);
  EXPECT_GT(both(r, "reorder"), 0u);
}

TEST(chaos_upload, corrupt) {
  auto r = upload_scenario("upload_corrupt", 6, {"--up-corrupt", "0.3"}, 6 * kMiB);
  EXPECT_GT(both(r, "corrupt"), 0u);
}

TEST(chaos_upload, delay_and_jitter) {
  auto r = upload_scenario("upload_delay_jitter", 7, {"--delay", "30:40"}, 4 * kMiB);
  EXPECT_GT(both(r, "delayed"), 0u);
}

TEST(chaos_upload, rate_cap) {
  auto r = upload_scenario("upload_rate_cap", 8, {"--up-rate", "2000000"}, 4 * kMiB);
  EXPECT_GT(both(r, "rate_limited"), 0u);
}

TEST(chaos_upload, cut_after_bytes) {
  // Every connection is reset after 2.5 MB towards resd: the upload needs several connections
  // and each must resume from what resd holds.
  auto r = upload_scenario("upload_cut_after_bytes", 9, {"--up-cut-after-bytes", "2500000"},
                           6 * kMiB);
  EXPECT_GE(both(r, "cut"), 2u);
  EXPECT_GE(r.resumes, 2u);
}

TEST(chaos_upload, cut_prob) {
  auto r = upload_scenario("upload_cut_prob", 30, {"--cut-prob", "0.05"}, 6 * kMiB);
  EXPECT_GT(both(r, "cut"), 0u);
}

TEST(chaos_upload, blackhole_then_heal) {
  // Both directions go silent while both sockets stay open (half-open): resd's frames after
  // its HELLO and UPLOAD_STATE (every CHUNK_ACK is swallowed), the client's bytes after 2 MB. Nothing reaches either side any more, so the client must notice through its own
  // heartbeat deadline and reconnect. Once the test sees the silence it clears every fault,
  // so the reconnection gets through. (A down-only blackhole is not enough: resd still gets
  // every chunk and READY reaches the sender through the chat server.)
  auto r = upload_scenario(
      "upload_blackhole", 11,
      {"--down-blackhole-after-frames", "2", "--up-blackhole-after-bytes", "2000000",
       "--up-rate", "4000000"},
      6 * kMiB, [](UploadRig& rig, Process&) {
        // Not sender.running(): it would reap the sender and lose its exit status.
        EXPECT_TRUE(wait_for([&] {
          return (rig.chaos.stat("up", "blackhole") > 0 && rig.chaos.stat("down", "blackhole") > 0) ||
                 read_text(rig.dir.sub("send.log")).find("\"READY\"") != std::string::npos;
        }, 60000));
        EXPECT_EQ(rig.chaos.control("clear"), "ok");
      });
  EXPECT_EQ(summary_num(r.chaos_summary, "up", "blackhole"), 1u);
  EXPECT_EQ(summary_num(r.chaos_summary, "down", "blackhole"), 1u);
  EXPECT_GE(r.resumes, 1u);
}

TEST(chaos_upload, refuse_connections) {
  // Refusing starts with the proxy and lasts until the test has seen a refusal: a fixed window
  // would race the sender's start-up (hashing, the chat round trip) on a loaded machine.
  auto r = upload_scenario("upload_refuse", 12, {"--refuse-ms", "3600000"}, 4 * kMiB,
                           [](UploadRig& rig, Process&) {
                             EXPECT_TRUE(wait_for(
                                 [&] { return rig.chaos.stat("", "refused") > 0; }, 60000));
                             EXPECT_EQ(rig.chaos.control("refuse 0"), "ok");
                           });
  EXPECT_GT(summary_num(r.chaos_summary, "", "refused"), 0u);
}

TEST(chaos_upload, mixed_scenario_file) {
  auto r = upload_scenario("upload_mixed", 13,
                           {"--scenario", std::string(FERRY_SOURCE_DIR) +
                                              "/fixtures/scenarios/upload-mixed.json"},
                           6 * kMiB);
  EXPECT_GT(both(r, "drop") + both(r, "dup") + both(r, "reorder") + both(r, "corrupt"), 0u);
}

TEST(chaos_upload, schedule_cut_and_refuse) {
  // flaky-then-cut.json: down drops from 2 s, every connection reset at 4 s and new ones
  // refused for 1 s, clean from 6 s. The rate cap makes the upload outlast the schedule.
  auto r = upload_scenario("upload_schedule", 14,
                           {"--scenario", std::string(FERRY_SOURCE_DIR) +
                                              "/fixtures/scenarios/flaky-then-cut.json",
                            "--up-rate", "1000000"},
                           6 * kMiB);
  EXPECT_GE(summary_num(r.chaos_summary, "", "schedule_steps"), 2u);
}

// BUG (found by this harness, SDK robustness; reported, not fixed here): when resd's
// UPLOAD_STATE answer to UPLOAD_OPEN never arrives on a connection that otherwise stays healthy
// (heartbeats answered), the SDK waits for it forever: it has no deadline for the OPEN, so the
// upload stalls until `send-file --timeout`. With seed 4 and --down-drop 0.5, connection 0's
// down frame #1 (HELLO) passes and #2 (UPLOAD_STATE) is dropped; the test then turns all faults
// off, so a client that retried the OPEN (or reconnected) would finish within seconds. On TCP a
// frame is not lost like this, but a resd that never answers (stuck worker, bug) has the same
// effect. Enable once the SDK times out an unanswered UPLOAD_OPEN.
TEST(chaos_upload, DISABLED_upload_state_lost_then_link_clean) {
  auto r = upload_scenario("upload_state_lost", 4, {"--down-drop", "0.5"}, 2 * kMiB,
                           [](UploadRig& rig, Process&) {
                             EXPECT_TRUE(wait_for(
                                 [&] { return rig.chaos.stat("down", "drop") > 0; }, 30000));
                             EXPECT_EQ(rig.chaos.control("clear"), "ok");
                           });
  EXPECT_GT(both(r, "drop"), 0u);
}

// ---- text messages through a proxy in front of ferry-chatd ----

TEST(chaos_chat, drop) {
  // A lost frame on a live TCP connection is only recovered by a reconnect; bob's listen
  // through the same lossy proxy could wait forever for a dropped push, so bob reads directly.
  ChatOptions o;
  o.listen_via_proxy = false;
  o.messages = 8;
  auto r = chat_scenario("chat_drop", 21, {"--drop", "0.05"}, o);
  EXPECT_GT(both(r, "drop"), 0u);
}

TEST(chaos_chat, dup) {
  auto r = chat_scenario("chat_dup", 22, {"--dup", "0.2"});
  EXPECT_GT(both(r, "dup"), 0u);
}

TEST(chaos_chat, reorder) {
  auto r = chat_scenario("chat_reorder", 23, {"--reorder", "0.2", "--reorder-ms", "50"});
  EXPECT_GT(both(r, "reorder"), 0u);
}

TEST(chaos_chat, delay_and_jitter) {
  auto r = chat_scenario("chat_delay_jitter", 24, {"--delay", "20:40"});
  EXPECT_GT(both(r, "delayed"), 0u);
}

TEST(chaos_chat, cut_prob) {
  auto r = chat_scenario("chat_cut_prob", 25, {"--cut-prob", "0.05"});
  EXPECT_GT(both(r, "cut"), 0u);
}

TEST(chaos_chat, refuse_connections) {
  // The proxy refuses every new connection until the test has seen one refused (a fixed
  // window from start would race the clients' start-up on a loaded machine); the first send
  // keeps retrying with backoff and gets through once the refusing stops.
  ChatOptions o;
  o.before = [](ChatRig& rig, MessageCheck& check) {
    EXPECT_EQ(rig.chaos.control("refuse 3600000"), "ok");
    std::string text = "chat_refuse-first";
    check.attempted.push_back(text);
    rig.clients_via++;
    Process send;
    ASSERT_TRUE(send.spawn(rig.alice_via.argv({"send", "bob", text, "--timeout", "60"}),
                           rig.dir.sub("first-send.log")));
    EXPECT_TRUE(wait_for([&] { return rig.chaos.stat("", "refused") > 0; }, 30000))
        << read_text(rig.dir.sub("first-send.log"));
    EXPECT_EQ(rig.chaos.control("refuse 0"), "ok");
    int st = send.wait(90000);
    EXPECT_EQ(st, 0) << read_text(rig.dir.sub("first-send.log"));
    if (st == 0) check.acked.push_back(text);
  };
  o.messages = 4;
  auto r = chat_scenario("chat_refuse", 26, {}, o);
  EXPECT_GT(summary_num(r.chaos_summary, "", "refused"), 0u);
}

TEST(chaos_chat, blackhole_down_then_heal) {
  // The first send's connection goes half-open after the server's first 300 bytes (about its
  // HELLO and the auth response; what follows is cut off, mid-frame); the client
  // notices through heartbeats, reconnects and resends under the same cid.
  ChatOptions o;
  o.before = [](ChatRig& rig, MessageCheck& check) {
    EXPECT_EQ(rig.chaos.control("set down_blackhole_after_bytes 300"), "ok");
    std::string text = "chat_blackhole-first";
    check.attempted.push_back(text);
    rig.clients_via++;
    Process send;
    ASSERT_TRUE(send.spawn(rig.alice_via.argv({"send", "bob", text, "--timeout", "30"}),
                           rig.dir.sub("first-send.log")));
    EXPECT_TRUE(wait_for([&] { return rig.chaos.stat("down", "blackhole") > 0; }, 30000))
        << read_text(rig.dir.sub("first-send.log"));
    EXPECT_EQ(rig.chaos.control("set down_blackhole_after_bytes 0"), "ok");
    int st = send.wait(60000);
    EXPECT_EQ(st, 0) << read_text(rig.dir.sub("first-send.log"));
    if (st == 0) check.acked.push_back(text);
  };
  o.messages = 4;
  auto r = chat_scenario("chat_blackhole", 27, {}, o);
  EXPECT_GT(both(r, "blackhole"), 0u);
  EXPECT_GE(r.resumes, 1u);
}

TEST(chaos_chat, mixed_scenario_file) {
  auto r = chat_scenario(
      "chat_mixed", 28,
      {"--scenario", std::string(FERRY_SOURCE_DIR) + "/fixtures/scenarios/chat-lossy.json"},
      ChatOptions{8, false, {}});
  EXPECT_GT(both(r, "drop") + both(r, "dup") + both(r, "reorder") + both(r, "cut"), 0u);
}
