// Crash and full-disk scenarios: `kill -9` of ferry-resd, of ferry-chatd and of the uploading
// `ferry` CLI at points drawn from the seed, then a restart on the same ports and data; and a
// resource server whose disk (a small tmpfs) fills up and is enlarged later. ferry-chaos (a
// rate cap only) sits in front of resd so that "kill at 37%" is reachable on loopback without
// racing the clock: the scenario waits for the sender's progress to pass the point, then kills.
// Every upload must end READY, byte-identical, as exactly one message; texts pass the Jepsen
// check.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "harness/common/prng.h"
#include "harness/scenarios/catalog.h"
#include "harness/scenarios/rigs.h"
#include "harness/scenarios/util.h"

namespace ferry::scenarios {
namespace {

namespace fs = std::filesystem;
using test::json_lines;
using test::JsonLine;
using test::read_text;
using test::RunResult;
using test::wait_for;

void sleep_ms(uint64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// A `ferry send-file --json` (or `ferry download --json`) running in the background, read
// through its log.
struct Upload {
  Process p;
  std::string log;
  bool spawn(const CliUser& user, const std::string& to, const std::string& file,
             const std::string& log_path) {
    log = log_path;
    return p.spawn(user.argv({"send-file", to, file, "--json", "--timeout", "180"}), log);
  }
  // `ferry download ID --out OUT`, its receive rate capped (the SDK's test hook) so that a
  // point like 37% is reachable on loopback.
  bool spawn_download(const CliUser& user, uint64_t id, const std::string& out,
                      uint64_t max_bps, const std::string& log_path) {
    log = log_path;
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "FERRY_DOWNLOAD_MAX_BPS=" + std::to_string(max_bps)};
    for (const std::string& a : user.argv({"download", std::to_string(id), "--out", out,
                                           "--json", "--timeout", "180"}))
      argv.push_back(a);
    return p.spawn(argv, log);
  }
  uint64_t message_id() const {
    for (const JsonLine& l : json_lines(read_text(log)))
      if (l.num("message_id") > 0) return uint64_t(l.num("message_id"));
    return 0;
  }
  uint64_t done() const {
    double best = 0;
    for (const JsonLine& l : json_lines(read_text(log)))
      if (l.is("progress")) best = std::max(best, l.num("done"));
    return uint64_t(best);
  }
  bool saw(const char* type, const char* key, const std::string& value) const {
    for (const JsonLine& l : json_lines(read_text(log)))
      if (l.is(type) && l.str(key) == value) return true;
    return false;
  }
  bool ready() const { return saw("status", "status", "READY") || saw("status", "status", "DONE"); }
  // A download that started again from bytes already on disk.
  bool fetched_from_nonzero() const {
    for (const JsonLine& l : json_lines(read_text(log)))
      if ((l.is("status") && l.str("status") == "FETCHING" && l.num("done") > 0) ||
          (l.is("resume") && l.num("done") > 0))
        return true;
    return false;
  }
};

// Kill points as fractions of the file, increasing, between 15% and 90%, drawn from the seed.
std::vector<double> kill_points(uint64_t seed, int n) {
  harness::Prng rng(seed);
  std::vector<double> v;
  double at = 0.1;
  for (int i = 0; i < n; i++) {
    at += 0.05 + rng.unit() * (0.8 - at) / double(n - i);
    v.push_back(at);
  }
  return v;
}

// Waits until the upload has passed `fraction` of `size`; false (with a failure) if it ended
// first or never got there.
bool reach(const Upload& up, double fraction, uint64_t size, Verdict& v) {
  uint64_t point = uint64_t(fraction * double(size));
  if (!v.check(wait_for([&] { return up.done() >= point || up.ready(); }, 180000),
               "the upload never reached " + std::to_string(point) + " bytes", tail(read_text(up.log))))
    return false;
  return v.check(!up.ready(), "the upload finished before the kill at " + std::to_string(point));
}

// Media messages from alice in bob's history with this hash; `ready` if the last was READY.
int media_with_hash(const CrashRig& rig, const std::string& sha, bool& ready, Verdict& v) {
  RunResult h = rig.bob.run({"history", "alice", "--json", "--limit", "1000"}, 60000);
  v.check(h.status == 0, "bob's history failed", h.err);
  int n = 0;
  for (const JsonLine& l : json_lines(h.out)) {
    if (!l.is("message") || l.str("sha256") != sha) continue;
    n++;
    ready = l.str("status") == "ready";
  }
  return n;
}

// The checks every upload here ends with; fills the report's upload fields.
void finish_upload(CrashRig& rig, ScenarioReport& rep, Upload& up, const std::string& sha,
                   uint64_t size, std::chrono::steady_clock::time_point t0) {
  Verdict& v = rep.verdict;
  int status = up.p.wait(240000);
  rep.seconds = seconds_since(t0);
  rep.file_size = size;
  rep.chaos_summary = rig.chaos.stop();
  rep.bytes_sent = summary_num(rep.chaos_summary, "up", "bytes_in");
  rep.bytes_resent = rep.bytes_sent > size ? rep.bytes_sent - size : 0;
  uint64_t conns = summary_num(rep.chaos_summary, "", "connections");
  rep.resumes = conns > 0 ? conns - 1 : 0;
  bool stored = fs::exists(rig.stored_path(sha)) && test::sha256_file(rig.stored_path(sha)) == sha;
  rep.hash_check = stored ? "ok" : "MISMATCH";
  v.check(status == 0, "send-file exited " + std::to_string(status), tail(read_text(up.log)));
  v.check(up.ready(), "the sender never saw READY", tail(read_text(up.log)));
  v.check(stored, "resd holds no file with the source's SHA-256 " + sha);
  bool ready = false;
  int n = media_with_hash(rig, sha, ready, v);
  v.check(n == 1, std::to_string(n) + " messages for the file in bob's history, not 1");
  v.check(ready, "bob's history does not show the file READY");
}

std::string noise_file(CrashRig& rig, uint64_t size, uint64_t seed, const char* name) {
  std::string file = rig.dir.sub(name);
  test::write_noise_file(file, size, seed);
  return file;
}

// What every upload scenario here starts with: the report, the rig (proxy `faults` in front of
// resd), a noise file of `size` bytes from the seed, and the clock.
struct CrashRun {
  ScenarioReport rep;
  Verdict& v = rep.verdict;
  CrashRig rig;
  uint64_t size = 0;
  std::string file, sha;
  std::chrono::steady_clock::time_point t0;

  CrashRun(const std::string& name, uint64_t seed, uint64_t bytes) : size(bytes) {
    rep.name = name;
    rep.seed = seed;
  }
  bool start(const std::vector<std::string>& faults) {
    if (!rig.start(rep.seed, faults, v)) return false;
    file = noise_file(rig, size, rep.seed, "source.bin");
    sha = test::sha256_file(file);
    t0 = std::chrono::steady_clock::now();
    return true;
  }
  // alice's `send-file` of the file, logged to `log` in the rig's dir.
  bool send(Upload& up, const std::string& log) {
    return v.check(up.spawn(rig.alice, "bob", file, rig.dir.sub(log)), "cannot start send-file");
  }
  void finish(Upload& up) { finish_upload(rig, rep, up, sha, size, t0); }
};

// resd dies twice at seeded points of a 24 MiB upload and comes back after a seeded pause;
// the sender resumes each time from what resd had made durable.
ScenarioReport resd_kill9(uint64_t seed) {
  CrashRun run("crash_resd_kill9", seed, 24 * kMiB);
  Upload up;
  if (!run.start({"--up-rate", "8000000"}) || !run.send(up, "send.log")) return run.rep;
  harness::Prng pause(seed ^ 0x5eed);
  for (double at : kill_points(seed, 2)) {
    if (!reach(up, at, run.size, run.v)) return run.rep;
    run.rig.resd.kill9();
    sleep_ms(pause.range(0, 1500));
    if (!run.rig.start_resd(run.v)) return run.rep;
  }
  run.finish(up);
  run.v.check(run.rep.resumes >= 2, "each kill must have cost the sender its connection");
  return run.rep;
}

// chatd dies in the middle of an upload while four texts are being sent, and comes back on
// the same port: the upload still ends READY for both sides (resd's upload_done reaches the
// restarted chatd) and every acknowledged text is stored once.
ScenarioReport chatd_kill9(uint64_t seed) {
  CrashRun run("crash_chatd_kill9", seed, 16 * kMiB);
  Verdict& v = run.v;
  CrashRig& rig = run.rig;
  Upload up;
  if (!run.start({"--up-rate", "8000000"}) || !run.send(up, "send.log")) return run.rep;
  if (!reach(up, kill_points(seed, 1)[0], run.size, v)) return run.rep;

  // Texts in flight across the crash: each `ferry send` either exits 0 (acknowledged) or not.
  MessageCheck check;
  std::vector<Process> sends(4);
  for (size_t i = 0; i < sends.size(); i++) {
    std::string text = "crash_chatd-" + std::to_string(i);
    check.attempted.push_back(text);
    v.check(sends[i].spawn(rig.alice.argv({"send", "bob", text, "--timeout", "60"}),
                           rig.dir.sub("text-" + std::to_string(i) + ".log")),
            "cannot start ferry send");
  }
  harness::Prng pause(seed);
  sleep_ms(pause.range(0, 300));
  rig.chatd.kill9();
  sleep_ms(pause.range(0, 1500));
  if (!rig.start_chatd(v)) return run.rep;
  for (size_t i = 0; i < sends.size(); i++)
    if (sends[i].wait(120000) == 0) check.acked.push_back(check.attempted[i]);
  v.check(check.acked.size() == sends.size(), "a send must retry until chatd is back");

  run.finish(up);
  ScenarioReport& rep = run.rep;
  RunResult h = rig.bob.run({"history", "alice", "--json", "--limit", "1000"}, 60000);
  v.check(h.status == 0, "bob's history failed", h.err);
  check.evaluate(alice_texts(h.out));
  rep.count(check);
  v.check(check.lost == 0, "acknowledged but missing from the server's history", h.out);
  v.check(check.duplicated == 0, "stored more than once", h.out);
  v.check(check.unexpected == 0, "stored but never sent", h.out);
  return rep;
}

// The uploading CLI dies at a seeded point; the same `send-file` again resumes from what resd
// held (not from zero) and yields one message, not two.
ScenarioReport client_kill9(uint64_t seed) {
  CrashRun run("crash_client_kill9", seed, 16 * kMiB);
  if (!run.start({"--up-rate", "8000000"})) return run.rep;
  {
    Upload first;
    if (!run.send(first, "send1.log")) return run.rep;
    if (!reach(first, kill_points(seed, 1)[0], run.size, run.v)) return run.rep;
    first.p.kill9();
  }
  Upload again;
  if (!run.send(again, "send2.log")) return run.rep;
  run.finish(again);
  bool resumed = false;
  for (const JsonLine& l : json_lines(read_text(again.log)))
    if (l.is("resume")) resumed = l.num("done") > 0;
  run.v.check(resumed, "the rerun did not resume from resd's durable chunks",
              tail(read_text(again.log)));
  run.v.check(run.rep.bytes_sent < 2 * run.size, "the rerun sent the file again from the start");
  return run.rep;
}

// resd's data lives on an 8 MiB tmpfs and a 12 MiB upload arrives: resd answers disk_full, the
// sender says it is waiting (not failed) and retries, resd keeps serving a small upload from
// bob meanwhile, and once the file system is enlarged the big upload completes.
ScenarioReport disk_full(uint64_t seed) {
  CrashRun run("crash_disk_full", seed, 12 * kMiB);
  Verdict& v = run.v;
  CrashRig& rig = run.rig;
  if (geteuid() != 0) {
    run.rep.skipped = "needs root to mount a tmpfs";
    return run.rep;
  }
  if (!rig.res_mount.mount(rig.dir.sub("res"), "8m")) {
    run.rep.skipped = std::string("cannot mount a tmpfs here: ") + std::strerror(errno);
    return run.rep;
  }
  Upload up;
  if (!run.start({}) || !run.send(up, "send.log")) return run.rep;
  if (!v.check(wait_for([&] { return up.saw("waiting", "error", "FERRY_EDISKFULL"); }, 120000),
               "the sender never said it waits for disk space", tail(read_text(up.log))))
    return run.rep;
  v.check(!up.saw("status", "status", "FAILED"), "disk_full failed the upload");

  // Everyone else is still served: bob's 1 MiB file fits and goes through.
  std::string small = noise_file(rig, 1 * kMiB, seed + 1, "small.bin");
  std::string small_sha = test::sha256_file(small);
  RunResult r = rig.bob.run({"send-file", "alice", small, "--json", "--timeout", "120"}, 180000);
  v.check(r.status == 0, "a small upload beside the waiting one failed", r.out + r.err);
  v.check(test::sha256_file(rig.stored_path(small_sha)) == small_sha,
          "the small upload is not stored");

  if (!v.check(rig.res_mount.resize("64m"),
               std::string("cannot enlarge the tmpfs: ") + std::strerror(errno)))
    return run.rep;
  run.finish(up);
  return run.rep;
}

// The start of a download scenario: the rig with resd also on HTTP, and alice's file uploaded
// to READY. Returns its message id (0 on failure).
uint64_t uploaded(CrashRun& run) {
  run.rig.http_port = free_port();
  if (!run.start({})) return 0;
  Upload up;
  if (!run.send(up, "send.log")) return 0;
  int st = up.p.wait(240000);
  if (!run.v.check(st == 0 && up.ready(), "the upload did not reach READY", tail(read_text(up.log))))
    return 0;
  return up.message_id();
}

// The checks a download scenario ends with.
void finish_download(CrashRun& run, Upload& dl, const std::string& out, int status) {
  run.rep.seconds = seconds_since(run.t0);
  run.rep.file_size = run.size;
  run.rep.chaos_summary = run.rig.chaos.stop();
  bool same = test::sha256_file(out) == run.sha;
  run.rep.hash_check = same ? "ok" : "MISMATCH";
  run.v.check(status == 0, "ferry download exited " + std::to_string(status), tail(read_text(dl.log)));
  run.v.check(same, "the downloaded file differs from the source");
  run.v.check(!std::filesystem::exists(out + ".part"), "the partial file is still there");
}

// resd (which also serves HTTP) dies at a seeded point of bob's download and comes back after a
// seeded pause: the same `ferry download` retries, resumes from the bytes it has (Range) and
// ends with the source's bytes.
ScenarioReport download_resd_kill9(uint64_t seed) {
  CrashRun run("crash_download_resd_kill9", seed, 24 * kMiB);
  uint64_t id = uploaded(run);
  if (id == 0) return run.rep;
  std::string out = run.rig.dir.sub("bob-download.bin");
  Upload dl;
  if (!run.v.check(dl.spawn_download(run.rig.bob, id, out, 8000000, run.rig.dir.sub("dl.log")),
                   "cannot start ferry download"))
    return run.rep;
  // Progress counts bytes on disk, which trail the bytes received by the SDK's write buffer
  // (up to 8 MiB of this 24 MiB file): kill within the first 60% so bytes are still to come.
  if (!reach(dl, 0.6 * kill_points(seed, 1)[0], run.size, run.v)) return run.rep;
  run.rig.resd.kill9();
  harness::Prng pause(seed);
  sleep_ms(pause.range(0, 1500));
  if (!run.rig.start_resd(run.v)) return run.rep;
  finish_download(run, dl, out, dl.p.wait(240000));
  if (!dl.saw("status", "status", "RETRYING") && !dl.fetched_from_nonzero()) {
    // Every byte had arrived before resd died: correct, but it proves nothing about resuming.
    run.rep.vacuous = "the download had every byte before resd was killed";
    return run.rep;
  }
  run.v.check(dl.fetched_from_nonzero(), "the download did not resume from a non-zero offset",
              tail(read_text(dl.log)));
  return run.rep;
}

// bob's `ferry download` dies (SIGKILL) at a seeded point; running it again resumes from the
// partial file and ends with the source's bytes.
ScenarioReport download_client_kill9(uint64_t seed) {
  CrashRun run("crash_download_client_kill9", seed, 24 * kMiB);
  uint64_t id = uploaded(run);
  if (id == 0) return run.rep;
  std::string out = run.rig.dir.sub("bob-download.bin");
  {
    Upload first;
    if (!run.v.check(first.spawn_download(run.rig.bob, id, out, 8000000, run.rig.dir.sub("dl1.log")),
                     "cannot start ferry download"))
      return run.rep;
    if (!reach(first, kill_points(seed, 1)[0], run.size, run.v)) return run.rep;
    first.p.kill9();
  }
  Upload again;
  if (!run.v.check(again.spawn_download(run.rig.bob, id, out, 1ull << 40, run.rig.dir.sub("dl2.log")),
                   "cannot start ferry download again"))
    return run.rep;
  finish_download(run, again, out, again.p.wait(240000));
  run.v.check(again.fetched_from_nonzero(), "the rerun did not resume from the partial file",
              tail(read_text(again.log)));
  return run.rep;
}

}  // namespace

void add_crash_scenarios(std::vector<Scenario>& out) {
  out.push_back({"crash_resd_kill9", "crash", 41,
                 "resd SIGKILLed twice at seeded points of a 24 MiB upload, restarted", resd_kill9});
  out.push_back({"crash_chatd_kill9", "crash", 42,
                 "chatd SIGKILLed mid-upload with four sends in flight, restarted", chatd_kill9});
  out.push_back({"crash_client_kill9", "crash", 43,
                 "the uploading CLI SIGKILLed at a seeded point, then run again", client_kill9});
  out.push_back({"crash_download_resd_kill9", "crash", 45,
                 "resd SIGKILLed mid-download (HTTP), restarted; the download resumes",
                 download_resd_kill9});
  out.push_back({"crash_download_client_kill9", "crash", 46,
                 "the downloading CLI SIGKILLed at a seeded point, then run again",
                 download_client_kill9});
  out.push_back({"crash_disk_full", "crash", 44,
                 "resd on an 8 MiB tmpfs gets a 12 MiB upload; enlarged later (root)", disk_full});
}

}  // namespace ferry::scenarios
