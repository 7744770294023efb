// ferry-link end to end (issue 7 §1). Real processes across a real emulated link: ferry-link
// makes namespaces A and B; ferry-chatd and ferry-resd listen in A on A's 198.18 address
// (ephemeral ports); the `ferry` CLI runs in B (`ip netns exec`). alice sends bob a text and a
// few MiB of noise with `send-file`; bob listens (and downloads over HTTP) through the same
// link. The test passes when the text arrives exactly once (in bob's listen and history), the
// file the resource server stored and the file bob downloaded both have the source's SHA-256,
// and ferry-link's JSON report shows traffic both ways and the drops the spec asked for.
// Other cases prove the run modes and the clean-up: commands run inside the namespaces
// (--a/--b) with their exit status passed on, a crashing command, SIGINT, and the stale
// sweep (--cleanup). No timing assertions. Needs root and /dev/net/tun, else it is skipped.
#include <cjson/cJSON.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/cli_user.h"
#include "tests/support/process.h"

using namespace ferry::test;

namespace {

std::string ip_path() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

std::string skip_reason() {
  if (geteuid() != 0) return "ferry-link needs root (network namespaces and TUN)";
  if (access("/dev/net/tun", R_OK | W_OK) != 0) return "no usable /dev/net/tun";
  if (ip_path().empty()) return "iproute2's ip is not installed";
  return "";
}

#define SKIP_WITHOUT_NETNS()               \
  do {                                     \
    std::string why = skip_reason();       \
    if (!why.empty()) GTEST_SKIP() << why; \
  } while (0)

std::vector<std::string> in_ns(const std::string& ns, const std::vector<std::string>& argv) {
  std::vector<std::string> a = {ip_path(), "netns", "exec", ns};
  a.insert(a.end(), argv.begin(), argv.end());
  return a;
}

bool netns_exists(const std::string& name) {
  RunResult r = run({ip_path(), "netns", "list"});
  return r.out.find(name) != std::string::npos;
}

std::shared_ptr<cJSON> parse_json(const std::string& text) {
  return std::shared_ptr<cJSON>(cJSON_Parse(text.c_str()), cJSON_Delete);
}

double num_at(const cJSON* j, std::initializer_list<const char*> path) {
  for (const char* key : path) j = j ? cJSON_GetObjectItemCaseSensitive(j, key) : nullptr;
  return cJSON_IsNumber(j) ? j->valuedouble : -1;
}

// A ferry-link in --print-ready mode, stopped by pid with SIGTERM.
struct Link {
  TempDir& dir;
  Process proc;
  std::string log, report_path, ns_a, ns_b, addr_a, addr_b;

  explicit Link(TempDir& d) : dir(d), log(d.sub("link.log")), report_path(d.sub("link.json")) {}

  bool start(const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {bin_path("ferry-link"), "--print-ready", "--report-file",
                                     report_path};
    argv.insert(argv.end(), flags.begin(), flags.end());
    if (!proc.spawn(argv, log)) return false;
    bool ready = wait_for(
        [&] {
          std::string t = read_text(log);
          size_t at = t.find("ready a=");
          if (at == std::string::npos || t.find('\n', at) == std::string::npos) return false;
          char a[64], ia[32], b[64], ib[32];
          if (std::sscanf(t.c_str() + at, "ready a=%63s %31s b=%63s %31s", a, ia, b, ib) != 4)
            return false;
          ns_a = a, addr_a = ia, ns_b = b, addr_b = ib;
          return true;
        },
        30000);
    return ready || (ADD_FAILURE() << "ferry-link not ready:\n" << read_text(log), false);
  }

  // SIGTERM; returns the parsed report (null if missing).
  std::shared_ptr<cJSON> stop() {
    EXPECT_EQ(proc.terminate(30000), 0) << read_text(log);
    return parse_json(read_text(report_path));
  }
};

struct ExchangeResult {
  std::shared_ptr<cJSON> report;
  double upload_seconds = 0;
};

// The whole exchange of the file comment through a link with `spec`.
ExchangeResult exchange(const std::string& name, const std::string& spec, uint64_t seed,
                        uint64_t file_bytes) {
  ExchangeResult res;
  TempDir dir;
  Link link(dir);
  if (!link.start({"--seed", std::to_string(seed), "--link", spec})) return res;

  Process chatd, resd, listener;
  EXPECT_TRUE(chatd.start(in_ns(link.ns_a, {bin_path("ferry-chatd"), "--listen", link.addr_a + ":0",
                                            "--data", dir.sub("chat"), "--secret-file",
                                            dir.sub("secret.key"), "--kdf-iterations", "1000"})));
  std::string chat = link.addr_a + ":" + std::to_string(chatd.port());
  EXPECT_EQ(chatd.host(), link.addr_a);
  EXPECT_TRUE(resd.start(in_ns(link.ns_a, {bin_path("ferry-resd"), "--listen", link.addr_a + ":0",
                                           "--http", link.addr_a + ":0", "--data", dir.sub("res"),
                                           "--secret-file", dir.sub("secret.key"), "--chat", chat}),
                         "http listening on "));
  CliUser alice{chat, dir.sub("alice")}, bob{chat, dir.sub("bob")};
  auto as = [&](const CliUser& u, const std::vector<std::string>& rest, int timeout_ms = 300000) {
    return run(in_ns(link.ns_b, u.argv(rest)), timeout_ms);
  };

  RunResult r = as(alice, {"register", "alice", "alice-password"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  r = as(bob, {"register", "bob", "bob-password"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;

  // bob listens (through the link too) until the file is downloaded and verified.
  std::string bob_log = dir.sub("bob-listen.log");
  EXPECT_TRUE(listener.spawn(
      in_ns(link.ns_b, bob.argv({"listen", "--json", "--until-ready", "--count", "1",
                                 "--download-dir", dir.sub("bob-files"), "--timeout", "300"})),
      bob_log));

  const std::string text = "hello across ferry-link, " + name + " seed " + std::to_string(seed);
  r = as(alice, {"send", "bob", text, "--timeout", "120"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;

  std::string src = dir.sub("noise.bin");
  write_noise_file(src, file_bytes, seed);
  const std::string sha = sha256_file(src);
  auto t0 = std::chrono::steady_clock::now();
  r = as(alice, {"send-file", "bob", src, "--json", "--timeout", "300"});
  res.upload_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  bool ready = false;
  for (const JsonLine& l : json_lines(r.out))
    ready = ready || (l.is("status") && l.str("status") == "READY");
  EXPECT_TRUE(ready) << r.out;

  // The resource server holds a byte-identical copy.
  EXPECT_EQ(sha256_file(dir.sub("res") + "/files/" + sha.substr(0, 2) + "/" + sha), sha);

  // bob: the text exactly once, the file downloaded and verified.
  EXPECT_EQ(listener.wait(300000), 0) << read_text(bob_log);
  int texts = 0;
  std::string downloaded;
  for (const JsonLine& l : json_lines(read_text(bob_log))) {
    if (l.is("message") && l.str("text") == text) texts++;
    if (l.is("download") && l.str("status") == "DONE") downloaded = l.str("path");
  }
  EXPECT_EQ(texts, 1) << read_text(bob_log);
  EXPECT_FALSE(downloaded.empty()) << read_text(bob_log);
  EXPECT_EQ(downloaded.empty() ? "" : sha256_file(downloaded), sha);

  r = as(bob, {"history", "alice", "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  texts = 0;
  for (const JsonLine& l : json_lines(r.out)) texts += l.is("message") && l.str("text") == text;
  EXPECT_EQ(texts, 1) << r.out;

  EXPECT_EQ(resd.terminate(), 0);
  EXPECT_EQ(chatd.terminate(), 0);
  res.report = link.stop();
  EXPECT_FALSE(netns_exists(link.ns_a)) << "namespace left behind";
  EXPECT_FALSE(netns_exists(link.ns_b)) << "namespace left behind";
  EXPECT_TRUE(res.report) << read_text(link.report_path);
  if (res.report) {
    const cJSON* j = res.report.get();
    // Upload bytes go B -> A, download bytes A -> B: each direction carried the file.
    EXPECT_GT(num_at(j, {"b_to_a", "bytes_in"}), double(file_bytes));
    EXPECT_GT(num_at(j, {"a_to_b", "bytes_in"}), double(file_bytes));
    EXPECT_EQ(num_at(j, {"b_to_a", "write_errors"}), 0);
    EXPECT_EQ(num_at(j, {"seed"}), double(seed));
    std::printf("[ link     ] %s spec=\"%s\" seed=%llu upload %.1f MiB in %.2fs (%.2f MB/s)\n",
                name.c_str(), spec.c_str(), (unsigned long long)seed, double(file_bytes) / 1048576,
                res.upload_seconds, double(file_bytes) / 1e6 / res.upload_seconds);
    char* text_report = cJSON_PrintUnformatted(j);
    std::printf("[ link     ] report %s\n", text_report);
    cJSON_free(text_report);
  }
  return res;
}

}  // namespace

TEST(link_e2e, delay_and_random_loss) {
  SKIP_WITHOUT_NETNS();
  ExchangeResult r = exchange("delay_loss", "delay 10ms loss 1%", 1, 4 << 20);
  ASSERT_TRUE(r.report);
  const cJSON* j = r.report.get();
  EXPECT_GT(num_at(j, {"a_to_b", "dropped", "random"}) + num_at(j, {"b_to_a", "dropped", "random"}),
            0);
  EXPECT_EQ(num_at(j, {"b_to_a", "dropped", "burst"}), 0);
  EXPECT_GT(num_at(j, {"b_to_a", "delayed"}), 0);
}

TEST(link_e2e, bursty_loss) {
  SKIP_WITHOUT_NETNS();
  // Bad spells of about 3 packets (r = 30%), entered once in 200 packets, lose half their
  // packets: about 0.8% loss, in clumps.
  ExchangeResult r = exchange("bursty", "delay 10ms 2ms loss gemodel 0.5% 30% 50% 0%", 2, 3 << 20);
  ASSERT_TRUE(r.report);
  const cJSON* j = r.report.get();
  EXPECT_GT(num_at(j, {"a_to_b", "dropped", "burst"}) + num_at(j, {"b_to_a", "dropped", "burst"}),
            0);
  EXPECT_EQ(num_at(j, {"b_to_a", "dropped", "random"}), 0);
}

TEST(link_e2e, heavy_loss_long_delay_every_fault) {
  SKIP_WITHOUT_NETNS();
  // 5% loss on a 100 ms round trip, with duplicates, reordering and a rate cap: TCP crawls
  // but must deliver every byte once.
  ExchangeResult r = exchange(
      "every_fault", "delay 50ms 10ms loss 5% duplicate 1% reorder 2% rate 20mbit", 3, 1 << 20);
  ASSERT_TRUE(r.report);
  const cJSON* j = r.report.get();
  EXPECT_GT(num_at(j, {"b_to_a", "dropped", "random"}), 0);
  EXPECT_GT(num_at(j, {"a_to_b", "duplicated"}) + num_at(j, {"b_to_a", "duplicated"}), 0);
  EXPECT_GT(num_at(j, {"a_to_b", "reordered"}) + num_at(j, {"b_to_a", "reordered"}), 0);
  // Every packet is accounted for: out + still on the wire = in - drops + duplicates.
  for (const char* dir : {"a_to_b", "b_to_a"}) {
    double in = num_at(j, {dir, "packets_in"}), out = num_at(j, {dir, "packets_out"});
    double dropped = num_at(j, {dir, "dropped", "random"}) + num_at(j, {dir, "dropped", "rate"}) +
                     num_at(j, {dir, "dropped", "queue"});
    EXPECT_EQ(out + num_at(j, {dir, "held_at_exit"}), in - dropped + num_at(j, {dir, "duplicated"}))
        << dir;
  }
}

TEST(link_e2e, commands_run_inside_the_namespaces) {
  SKIP_WITHOUT_NETNS();
  TempDir dir;
  // A fixed port is safe here: namespace A is private to this run.
  std::string chatd = bin_path("ferry-chatd") + " --listen 198.18.0.1:7000 --data " +
                      dir.sub("chat") + " --secret-file " + dir.sub("secret.key") +
                      " --kdf-iterations 1000";
  std::string cli = bin_path("ferry") + " --server 198.18.0.1:7000 --state " + dir.sub("alice");
  // B retries until A's server listens, then proves it reached A through the link.
  std::string client = "for i in $(seq 1 100); do " + cli +
                       " register alice alice-password && exit 0; sleep 0.2; done; exit 9";
  RunResult r = run({bin_path("ferry-link"), "--seed", "5", "--link", "delay 5ms", "--a",
                     "exec " + chatd, "--b", client},
                    120000);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  std::vector<JsonLine> lines = json_lines(r.out);
  ASSERT_FALSE(lines.empty()) << r.out;
  const cJSON* j = lines.back().j.get();
  EXPECT_EQ(num_at(j, {"status"}), 0);
  EXPECT_GT(num_at(j, {"b_to_a", "packets_in"}), 0);
  EXPECT_GT(num_at(j, {"a_to_b", "packets_in"}), 0);
  const cJSON* kids = cJSON_GetObjectItem(j, "commands");
  ASSERT_EQ(cJSON_GetArraySize(kids), 2);
  // chatd was stopped with SIGTERM once the last command (the client) was done.
  EXPECT_EQ(num_at(cJSON_GetArrayItem(kids, 1), {"status"}), 0);
  const cJSON* a = cJSON_GetObjectItem(j, "a");
  std::string ns = cJSON_GetStringValue(cJSON_GetObjectItem(a, "netns"));
  EXPECT_FALSE(netns_exists(ns));
}

TEST(link_e2e, crashing_command_still_cleans_up) {
  SKIP_WITHOUT_NETNS();
  RunResult r = run({bin_path("ferry-link"), "--a", "sleep 60", "--b", "kill -SEGV $$"}, 60000);
  EXPECT_EQ(r.status, 128 + SIGSEGV) << r.out << r.err;
  std::vector<JsonLine> lines = json_lines(r.out);
  ASSERT_FALSE(lines.empty()) << r.out;
  const cJSON* j = lines.back().j.get();
  const cJSON* kids = cJSON_GetObjectItem(j, "commands");
  ASSERT_EQ(cJSON_GetArraySize(kids), 2);
  EXPECT_EQ(num_at(cJSON_GetArrayItem(kids, 0), {"status"}), 128 + SIGTERM);  // stopped
  EXPECT_EQ(num_at(cJSON_GetArrayItem(kids, 1), {"status"}), 128 + SIGSEGV);
  for (const char* side : {"a", "b"}) {
    std::string ns =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, side), "netns"));
    EXPECT_FALSE(netns_exists(ns)) << ns;
  }
}

TEST(link_e2e, sigint_cleans_up) {
  SKIP_WITHOUT_NETNS();
  TempDir dir;
  Link link(dir);
  ASSERT_TRUE(link.start({"--link", "delay 1ms"}));
  EXPECT_TRUE(netns_exists(link.ns_a));
  EXPECT_TRUE(netns_exists(link.ns_b));
  // Addresses are inside 198.18.0.0/15 and the TUN is up with MTU 1500.
  EXPECT_EQ(link.addr_a, "198.18.0.1");
  EXPECT_EQ(link.addr_b, "198.18.0.2");
  RunResult r = run({ip_path(), "-n", link.ns_a, "link", "show", "flink0"});
  EXPECT_NE(r.out.find("mtu 1500"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(",UP"), std::string::npos) << r.out;
  ASSERT_EQ(kill(link.proc.pid(), SIGINT), 0);
  EXPECT_EQ(link.proc.wait(30000), 0) << read_text(link.log);
  EXPECT_FALSE(netns_exists(link.ns_a));
  EXPECT_FALSE(netns_exists(link.ns_b));
  auto report = parse_json(read_text(link.report_path));
  ASSERT_TRUE(report);
  EXPECT_EQ(num_at(report.get(), {"signal"}), SIGINT);
}

TEST(link_e2e, cleanup_removes_only_dead_owners) {
  SKIP_WITHOUT_NETNS();
  // A pid that surely ended: a child we reaped.
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  std::string stale = "ferry-link-" + std::to_string(dead) + "-a";
  std::string live = "ferry-link-" + std::to_string(getpid()) + "-b";
  ASSERT_EQ(run({ip_path(), "netns", "add", stale}).status, 0);
  ASSERT_EQ(run({ip_path(), "netns", "add", live}).status, 0);
  RunResult r = run({bin_path("ferry-link"), "--cleanup"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(netns_exists(stale)) << r.out;
  EXPECT_TRUE(netns_exists(live)) << "a namespace of a live pid was removed";
  run({ip_path(), "netns", "delete", live});
  run({ip_path(), "netns", "delete", stale});
}

TEST(link_e2e, refuses_addresses_outside_the_benchmark_range) {
  SKIP_WITHOUT_NETNS();
  RunResult r = run({bin_path("ferry-link"), "--a-addr", "10.0.0.1", "--b", "true"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("198.18.0.0/15"), std::string::npos) << r.err;
  r = run({bin_path("ferry-link"), "--link", "delay 10 parsecs", "--b", "true"});
  EXPECT_EQ(r.status, 2);
}

TEST(link_e2e, per_direction_specs) {
  SKIP_WITHOUT_NETNS();
  // --up-link is B -> A (the client side sending), --down-link A -> B; each replaces --link.
  RunResult r =
      run({bin_path("ferry-link"), "--link", "delay 7ms", "--up-link", "loss 5%", "--b", "true"});
  EXPECT_EQ(r.status, 0) << r.err;
  std::vector<JsonLine> lines = json_lines(r.out);
  ASSERT_FALSE(lines.empty()) << r.out;
  const cJSON* j = lines.back().j.get();
  auto spec = [&](const char* dir) {
    return std::string(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, dir), "spec")));
  };
  EXPECT_EQ(spec("b_to_a"), "loss 5%");
  EXPECT_EQ(spec("a_to_b"), "delay 7ms");
  r = run({bin_path("ferry-link"), "--down-link", "rate 1mbit", "--b", "true"});
  lines = json_lines(r.out);
  ASSERT_FALSE(lines.empty()) << r.out;
  j = lines.back().j.get();
  EXPECT_EQ(spec("a_to_b"), "rate 1mbit");
  EXPECT_EQ(spec("b_to_a"), "");
}

TEST(link_e2e, sigkill_leaves_namespaces_to_the_sweep) {
  SKIP_WITHOUT_NETNS();
  TempDir dir;
  Link link(dir);
  ASSERT_TRUE(link.start({"--link", "delay 1ms"}));
  link.proc.kill9();  // nothing can catch this: the namespaces stay behind
  EXPECT_TRUE(netns_exists(link.ns_a));
  RunResult r = run({bin_path("ferry-link"), "--cleanup"});
  EXPECT_EQ(r.status, 0) << r.err;
  // (A ferry-link starting in parallel may have swept them first; either way they are gone.)
  EXPECT_FALSE(netns_exists(link.ns_a)) << r.out;
  EXPECT_FALSE(netns_exists(link.ns_b)) << r.out;
}
