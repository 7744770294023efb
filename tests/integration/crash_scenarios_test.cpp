// What: issue 5 §3's crash and full-disk scenarios with real processes. `kill -9` of
// ferry-resd, of ferry-chatd and of the uploading `ferry` CLI at points drawn from the
// scenario's seed, then a restart on the same ports and data; and a resource server whose disk
// (a small tmpfs) fills up and is enlarged later. Every upload must end READY with the stored
// file's SHA-256 equal to the source's, exactly one message per file; texts are checked the
// Jepsen way (every acknowledged text stored exactly once, nothing unexpected).
// How: a ferry-chaos proxy with only a rate cap sits in front of resd, so that "kill at 37%" is
// reachable on loopback without racing the clock: the test waits for the sender's progress to
// pass the point, then kills. Servers restart with the same --listen port, so the proxy and the
// clients find them again. Each scenario prints one line and writes a JSON report
// (chaos_support.h); FERRY_CHAOS_SEED=N replays or explores another seed.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "harness/common/prng.h"
#include "tests/integration/chaos_support.h"
#include "tests/integration/upload_e2e_support.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMiB = 1 << 20;

uint64_t seed_or_env(uint64_t seed) {
  const char* env = std::getenv("FERRY_CHAOS_SEED");
  return env && *env ? std::strtoull(env, nullptr, 10) : seed;
}

std::string tail(const std::string& text, size_t n = 3000) {
  return text.size() > n ? "..." + text.substr(text.size() - n) : text;
}

// A tmpfs of `size` mounted on `dir` while the guard lives (root only). Declared before the
// processes that use it, so they are stopped before it is unmounted.
class TmpfsMount {
 public:
  bool mount(const std::string& dir, const std::string& size) {
    fs::create_directories(dir);
    std::string opts = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) return false;
    dir_ = dir;
    return true;
  }
  bool resize(const std::string& size) {
    std::string opts = "size=" + size + ",mode=0700";
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (!dir_.empty()) umount2(dir_.c_str(), MNT_DETACH);
  }

 private:
  std::string dir_;
};

// ferry-chatd and ferry-resd, each restartable on its first port with the same data; a
// ferry-chaos proxy (rate cap only) in front of resd, which advertises it.
struct CrashRig {
  TmpfsMount res_mount;  // optional: resd's data on a small filesystem
  TempDir dir;
  Process chatd, resd;
  ChaosProcess chaos;
  CliUser alice, bob;
  int chat_port = 0, resd_port = 0, chaos_port = 0;

  bool start_chatd() {
    if (!chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:" + std::to_string(chat_port),
                      "--data", dir.sub("chat"), "--secret-file", dir.sub("secret.key"),
                      "--kdf-iterations", "1000", "--idle-timeout-ms", "3000"},
                     "listening on ", 60000))
      return ADD_FAILURE() << "ferry-chatd did not start", false;
    chat_port = chatd.port();
    return true;
  }
  bool start_resd() {
    if (!resd.start({bin_path("ferry-resd"), "--listen", "127.0.0.1:" + std::to_string(resd_port),
                     "--data", dir.sub("res"), "--secret-file", dir.sub("secret.key"), "--chat",
                     "127.0.0.1:" + std::to_string(chat_port), "--advertise",
                     "127.0.0.1:" + std::to_string(chaos_port), "--idle-timeout-ms", "1500"},
                    "listening on ", 60000))
      return ADD_FAILURE() << "ferry-resd did not start", false;
    resd_port = resd.port();
    return true;
  }
  bool start(uint64_t seed, const std::vector<std::string>& faults) {
    if (!start_chatd()) return false;
    chaos_port = free_port();
    if (!start_resd()) return false;
    if (!chaos.start(dir.path(), "chaos", chaos_port, resd_port, seed, faults))
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

// A `ferry send-file --json` running in the background, read through its log.
struct Upload {
  Process p;
  std::string log;
  bool spawn(const CliUser& user, const std::string& to, const std::string& file,
             const std::string& log_path) {
    log = log_path;
    return p.spawn(user.argv({"send-file", to, file, "--json", "--timeout", "180"}), log);
  }
  uint64_t done() const {
    double best = 0;
    for (const JsonLine& l : json_lines(read_text(log)))
      if (l.is("progress")) best = std::max(best, l.num("done"));
    return uint64_t(best);
  }
  bool saw(const std::string& type, const std::string& key, const std::string& value) const {
    for (const JsonLine& l : json_lines(read_text(log)))
      if (l.is(type.c_str()) && l.str(key.c_str()) == value) return true;
    return false;
  }
};

// Kill points as fractions of the file, in increasing order, drawn from the seed.
std::vector<double> kill_points(uint64_t seed, int n) {
  ferry::harness::Prng rng(seed);
  std::vector<double> v;
  double at = 0.1;
  for (int i = 0; i < n; i++) {
    at += 0.05 + rng.unit() * (0.8 - at) / double(n - i);
    v.push_back(at);
  }
  return v;
}

// Media messages from alice in bob's history with this hash (READY or not).
int media_with_hash(const CrashRig& rig, const std::string& sha, bool* ready = nullptr) {
  RunResult h = rig.bob.run({"history", "alice", "--json", "--limit", "1000"}, 60000);
  EXPECT_EQ(h.status, 0) << h.err;
  int n = 0;
  for (const JsonLine& l : json_lines(h.out)) {
    if (!l.is("message") || l.str("sha256") != sha) continue;
    n++;
    if (ready) *ready = l.str("status") == "ready";
  }
  return n;
}

// The checks every upload scenario ends with; fills the report's upload fields and emits it
// (unless the caller has message fields to add first).
void finish_upload(CrashRig& rig, ScenarioReport& rep, Upload& up, const std::string& sha,
                   uint64_t size, std::chrono::steady_clock::time_point t0, bool emit = true) {
  int status = up.p.wait(240000);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.file_size = size;
  rep.chaos_summary = rig.chaos.stop();
  rep.bytes_sent = summary_num(rep.chaos_summary, "up", "bytes_in");
  rep.bytes_resent = rep.bytes_sent > size ? rep.bytes_sent - size : 0;
  uint64_t conns = summary_num(rep.chaos_summary, "", "connections");
  rep.resumes = conns > 0 ? conns - 1 : 0;
  bool stored = fs::exists(rig.stored_path(sha)) && sha256_file(rig.stored_path(sha)) == sha;
  rep.hash_check = stored ? "ok" : "MISMATCH";
  if (emit) rep.emit(rig.dir.path());
  EXPECT_EQ(status, 0) << tail(read_text(up.log));
  EXPECT_TRUE(up.saw("status", "status", "READY")) << tail(read_text(up.log));
  EXPECT_TRUE(stored) << "resd holds no file with the source's SHA-256 " << sha;
  bool ready = false;
  EXPECT_EQ(media_with_hash(rig, sha, &ready), 1) << "exactly one message for the file";
  EXPECT_TRUE(ready) << "bob's history does not show the file READY";
}

}  // namespace

// resd dies (SIGKILL) twice at seeded points of a 24 MiB upload and comes back after a seeded
// pause; the sender resumes each time from what resd had made durable.
TEST(chaos_crash, resd_kill9_at_seeded_points_then_restart) {
  uint64_t seed = seed_or_env(41);
  ScenarioReport rep;
  rep.name = "crash_resd_kill9";
  rep.seed = seed;
  CrashRig rig;
  ASSERT_TRUE(rig.start(seed, {"--up-rate", "8000000"}));
  uint64_t size = 24 * kMiB;
  std::string file = rig.dir.sub("source.bin");
  write_noise_file(file, size, seed);
  std::string sha = sha256_file(file);
  auto t0 = std::chrono::steady_clock::now();
  Upload up;
  ASSERT_TRUE(up.spawn(rig.alice, "bob", file, rig.dir.sub("send.log")));
  ferry::harness::Prng pause_rng(seed ^ 0x5eed);
  for (double at : kill_points(seed, 2)) {
    uint64_t point = uint64_t(at * double(size));
    ASSERT_TRUE(wait_for([&] { return up.done() >= point || up.saw("status", "status", "READY"); },
                         180000))
        << tail(read_text(up.log));
    ASSERT_FALSE(up.saw("status", "status", "READY")) << "finished before the kill at " << at;
    rig.resd.kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_rng.range(0, 1500)));
    ASSERT_TRUE(rig.start_resd());
  }
  finish_upload(rig, rep, up, sha, size, t0);
  EXPECT_GE(rep.resumes, 2u) << "each kill must have cost the sender its connection";
}

// chatd dies (SIGKILL) in the middle of an upload while texts are being sent, and comes back on
// the same port: the upload still ends READY for both sides, every acknowledged text is stored
// once, and resd delivers its upload_done to the restarted chatd.
TEST(chaos_crash, chatd_kill9_during_upload_and_texts_then_restart) {
  uint64_t seed = seed_or_env(42);
  ScenarioReport rep;
  rep.name = "crash_chatd_kill9";
  rep.seed = seed;
  CrashRig rig;
  ASSERT_TRUE(rig.start(seed, {"--up-rate", "8000000"}));
  uint64_t size = 16 * kMiB;
  std::string file = rig.dir.sub("source.bin");
  write_noise_file(file, size, seed);
  std::string sha = sha256_file(file);
  auto t0 = std::chrono::steady_clock::now();
  Upload up;
  ASSERT_TRUE(up.spawn(rig.alice, "bob", file, rig.dir.sub("send.log")));
  uint64_t point = uint64_t(kill_points(seed, 1)[0] * double(size));
  ASSERT_TRUE(wait_for([&] { return up.done() >= point; }, 180000)) << tail(read_text(up.log));

  // Texts in flight across the crash: each `ferry send` either exits 0 (acknowledged) or not.
  MessageCheck check;
  std::vector<Process> sends(4);
  for (size_t i = 0; i < sends.size(); i++) {
    std::string text = "crash_chatd-" + std::to_string(i);
    check.attempted.push_back(text);
    ASSERT_TRUE(sends[i].spawn(rig.alice.argv({"send", "bob", text, "--timeout", "60"}),
                               rig.dir.sub("text-" + std::to_string(i) + ".log")));
  }
  ferry::harness::Prng pause_rng(seed);
  std::this_thread::sleep_for(std::chrono::milliseconds(pause_rng.range(0, 300)));
  rig.chatd.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(pause_rng.range(0, 1500)));
  ASSERT_TRUE(rig.start_chatd());
  for (size_t i = 0; i < sends.size(); i++)
    if (sends[i].wait(120000) == 0) check.acked.push_back(check.attempted[i]);
  EXPECT_EQ(check.acked.size(), sends.size()) << "a send retries until chatd is back";

  finish_upload(rig, rep, up, sha, size, t0, false);
  RunResult h = rig.bob.run({"history", "alice", "--json", "--limit", "1000"}, 60000);
  ASSERT_EQ(h.status, 0) << h.err;
  std::vector<std::string> stored;
  for (const JsonLine& l : json_lines(h.out))
    if (l.is("message") && !l.str("text").empty()) stored.push_back(l.str("text"));
  check.evaluate(stored);
  rep.messages = check.attempted.size();
  rep.acked = check.acked.size();
  rep.lost = check.lost;
  rep.duplicated = check.duplicated;
  rep.unexpected = check.unexpected;
  rep.emit(rig.dir.path());
  EXPECT_EQ(check.lost, 0u) << h.out;
  EXPECT_EQ(check.duplicated, 0u) << h.out;
  EXPECT_EQ(check.unexpected, 0u) << h.out;
}

// The uploading CLI dies (SIGKILL) at a seeded point; running the same `send-file` again
// resumes from what resd held (not from zero) and yields one message, not two.
TEST(chaos_crash, client_kill9_at_seeded_point_then_rerun) {
  uint64_t seed = seed_or_env(43);
  ScenarioReport rep;
  rep.name = "crash_client_kill9";
  rep.seed = seed;
  CrashRig rig;
  ASSERT_TRUE(rig.start(seed, {"--up-rate", "8000000"}));
  uint64_t size = 16 * kMiB;
  std::string file = rig.dir.sub("source.bin");
  write_noise_file(file, size, seed);
  std::string sha = sha256_file(file);
  auto t0 = std::chrono::steady_clock::now();
  uint64_t point = uint64_t(kill_points(seed, 1)[0] * double(size));
  {
    Upload first;
    ASSERT_TRUE(first.spawn(rig.alice, "bob", file, rig.dir.sub("send1.log")));
    ASSERT_TRUE(wait_for([&] { return first.done() >= point; }, 180000))
        << tail(read_text(first.log));
    first.p.kill9();
    ASSERT_FALSE(first.saw("status", "status", "READY")) << "finished before the kill";
  }
  Upload again;
  ASSERT_TRUE(again.spawn(rig.alice, "bob", file, rig.dir.sub("send2.log")));
  finish_upload(rig, rep, again, sha, size, t0);
  bool resumed = false;
  for (const JsonLine& l : json_lines(read_text(again.log)))
    if (l.is("resume")) resumed = l.num("done") > 0;
  EXPECT_TRUE(resumed) << "the rerun must resume from resd's durable chunks:\n"
                       << tail(read_text(again.log));
  EXPECT_LT(rep.bytes_sent, 2 * size) << "the rerun sent the file again from the start";
}

// resd's data lives on an 8 MiB tmpfs and a 12 MiB upload arrives: resd answers disk_full, the
// sender says it is waiting (not failed) and retries, resd keeps serving a small upload from bob
// meanwhile, and once the filesystem is enlarged the big upload completes.
TEST(chaos_crash, resd_disk_full_then_freed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  uint64_t seed = seed_or_env(44);
  ScenarioReport rep;
  rep.name = "crash_disk_full";
  rep.seed = seed;
  CrashRig rig;
  if (!rig.res_mount.mount(rig.dir.sub("res"), "8m"))
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  ASSERT_TRUE(rig.start(seed, {}));
  uint64_t size = 12 * kMiB;
  std::string file = rig.dir.sub("source.bin");
  write_noise_file(file, size, seed);
  std::string sha = sha256_file(file);
  auto t0 = std::chrono::steady_clock::now();
  Upload up;
  ASSERT_TRUE(up.spawn(rig.alice, "bob", file, rig.dir.sub("send.log")));
  ASSERT_TRUE(wait_for([&] { return up.saw("waiting", "error", "FERRY_EDISKFULL"); }, 120000))
      << tail(read_text(up.log));
  EXPECT_FALSE(up.saw("status", "status", "FAILED"));

  // Everyone else is still served: bob's 1 MiB file fits and goes through.
  std::string small = rig.dir.sub("small.bin");
  write_noise_file(small, 1 * kMiB, seed + 1);
  std::string small_sha = sha256_file(small);
  RunResult r = rig.bob.run({"send-file", "alice", small, "--json", "--timeout", "120"}, 180000);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(sha256_file(rig.stored_path(small_sha)), small_sha);

  ASSERT_TRUE(rig.res_mount.resize("64m")) << std::strerror(errno);
  finish_upload(rig, rep, up, sha, size, t0);
}
