// Packet-level scenarios through ferry-link (issue 7 §1; docs/harness.md, last section).
// ferry-link makes namespaces A and B joined by an emulated link; ferry-chatd and ferry-resd
// listen in A on A's 198.18 address (ephemeral ports), and every `ferry` CLI runs in B through
// `ip netns exec`, so all traffic crosses the link: TCP itself sees the loss, delay and
// reordering, not a proxy above it. alice sends bob a few texts (one `ferry send` each) and a
// file; bob listens through the same link and downloads the file once it is READY.
//
// Checked: every text alice saw acknowledged is in bob's history and bob's listen exactly once,
// nothing else is; the resource server's copy and bob's download both have the source's
// SHA-256; ferry-link's report shows the faults the spec asked for (else the run is vacuous)
// and accounts for every packet (out + still held = in - dropped + duplicated). Needs root,
// /dev/net/tun and iproute2; elsewhere the scenarios are skipped.
#include <cjson/cJSON.h>

#include <chrono>
#include <memory>

#include "harness/bench/link_env.h"
#include "harness/scenarios/catalog.h"
#include "harness/scenarios/rigs.h"
#include "harness/scenarios/util.h"

namespace ferry::scenarios {
namespace {

using test::json_lines;
using test::JsonLine;
using test::read_text;
using test::RunResult;

struct LinkCase {
  std::string spec;  // ferry-link's --link, both directions
  uint64_t file_bytes = 0;
  int texts = 0;
  std::string drop_kind;  // "random" or "burst": the drops this spec must cause
};

double num_at(const cJSON* j, std::initializer_list<const char*> path) {
  for (const char* key : path) j = j ? cJSON_GetObjectItemCaseSensitive(j, key) : nullptr;
  return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

std::vector<std::string> in_ns(const std::vector<std::string>& wrap,
                               const std::vector<std::string>& argv) {
  std::vector<std::string> a = wrap;
  a.insert(a.end(), argv.begin(), argv.end());
  return a;
}

// Checks ferry-link's exit report: the faults fired and every packet is accounted for.
void check_link_report(ScenarioReport& rep, const LinkCase& c) {
  Verdict& v = rep.verdict;
  std::unique_ptr<cJSON, decltype(&cJSON_Delete)> j(cJSON_Parse(rep.chaos_summary.c_str()),
                                                    cJSON_Delete);
  if (!v.check(j != nullptr, "ferry-link wrote no report")) return;
  const char* kind = c.drop_kind.c_str();
  double drops = num_at(j.get(), {"a_to_b", "dropped", kind}) +
                 num_at(j.get(), {"b_to_a", "dropped", kind});
  if (drops == 0) rep.vacuous = std::string("ferry-link dropped no packet (") + kind + ")";
  rep.bytes_sent = uint64_t(num_at(j.get(), {"b_to_a", "bytes_in"}));  // IP bytes, B -> A
  v.check(num_at(j.get(), {"b_to_a", "bytes_in"}) > double(c.file_bytes),
          "the upload direction carried less than the file");
  for (const char* dir : {"a_to_b", "b_to_a"}) {
    double in = num_at(j.get(), {dir, "packets_in"});
    double out = num_at(j.get(), {dir, "packets_out"});
    double dropped = num_at(j.get(), {dir, "dropped", "random"}) +
                     num_at(j.get(), {dir, "dropped", "burst"}) +
                     num_at(j.get(), {dir, "dropped", "rate"}) +
                     num_at(j.get(), {dir, "dropped", "queue"}) +
                     num_at(j.get(), {dir, "dropped", "first"});
    double held = num_at(j.get(), {dir, "held_at_exit"});
    v.check(out + held == in - dropped + num_at(j.get(), {dir, "duplicated"}),
            std::string("ferry-link's packet count does not add up for ") + dir);
    v.check(num_at(j.get(), {dir, "write_errors"}) == 0,
            std::string("ferry-link could not write packets ") + dir);
  }
}

ScenarioReport link_scenario(const std::string& name, uint64_t seed, const LinkCase& c) {
  ScenarioReport rep;
  rep.name = name;
  rep.seed = seed;
  rep.file_size = c.file_bytes;
  Verdict& v = rep.verdict;
  if (std::string why = bench::link_unavailable_reason(); !why.empty()) {
    rep.skipped = why;
    return rep;
  }
  TempDir dir;
  bench::LinkEnv link;
  if (!v.check(link.start(c.spec, seed, dir.path()), "ferry-link did not start",
               read_text(dir.sub("link.log"))))
    return rep;
  auto t0 = std::chrono::steady_clock::now();
  {
    Process chatd, resd, listener;
    const std::string secret = dir.sub("secret.key");
    if (!v.check(chatd.start(in_ns(link.wrap_a(),
                                   {test::bin_path("ferry-chatd"), "--listen", link.addr_a + ":0",
                                    "--data", dir.sub("chat"), "--secret-file", secret,
                                    "--kdf-iterations", "1000"})),
                 "ferry-chatd did not start in namespace A"))
      return rep;
    std::string chat = link.addr_a + ":" + std::to_string(chatd.port());
    if (!v.check(resd.start(in_ns(link.wrap_a(),
                                  {test::bin_path("ferry-resd"), "--listen", link.addr_a + ":0",
                                   "--http", link.addr_a + ":0", "--data", dir.sub("res"),
                                   "--secret-file", secret, "--chat", chat}),
                            "http listening on "),
                 "ferry-resd did not start in namespace A"))
      return rep;
    CliUser alice{chat, dir.sub("alice")}, bob{chat, dir.sub("bob")};
    auto as = [&](const CliUser& u, const std::vector<std::string>& rest) {
      return test::run(in_ns(link.wrap_b(), u.argv(rest)), 300000);
    };
    RunResult r = as(alice, {"register", "alice", "alice-password"});
    if (!v.check(r.status == 0, "alice could not register", r.err)) return rep;
    r = as(bob, {"register", "bob", "bob-password"});
    if (!v.check(r.status == 0, "bob could not register", r.err)) return rep;

    // bob listens across the link until the one file is saved (texts arrive on the way).
    std::string bob_log = dir.sub("bob-listen.log");
    v.check(listener.spawn(in_ns(link.wrap_b(),
                                 bob.argv({"listen", "--json", "--until-ready", "--count", "1",
                                           "--download-dir", dir.sub("bob-files"), "--timeout",
                                           "300"})),
                           bob_log),
            "bob's listen did not start");

    MessageCheck check;
    for (int i = 0; i < c.texts; i++) {
      std::string text = name + "-" + std::to_string(i);
      check.attempted.push_back(text);
      r = as(alice, {"send", "bob", text, "--timeout", "120"});
      if (v.check(r.status == 0, "a send across the link failed", r.err))
        check.acked.push_back(text);
    }

    std::string src = dir.sub("noise.bin");
    test::write_noise_file(src, c.file_bytes, seed);
    const std::string sha = test::sha256_file(src);
    r = as(alice, {"send-file", "bob", src, "--json", "--timeout", "300"});
    bool ready = false;
    for (const JsonLine& l : json_lines(r.out))
      ready = ready || (l.is("status") && l.str("status") == "READY");
    v.check(r.status == 0 && ready, "the upload did not become READY", tail(r.out + r.err));
    std::string stored = test::sha256_file(dir.sub("res") + "/files/" + sha.substr(0, 2) + "/" + sha);
    bool stored_ok = stored == sha;
    v.check(stored_ok, "the resource server's copy differs from the source");

    int st = listener.wait(300000);
    std::string listen_out = read_text(bob_log);
    v.check(st == 0, "bob's listen did not finish", tail(listen_out));
    std::string downloaded;
    for (const JsonLine& l : json_lines(listen_out))
      if (l.is("download") && l.str("status") == "DONE") downloaded = l.str("path");
    bool download_ok = !downloaded.empty() && test::sha256_file(downloaded) == sha;
    v.check(download_ok, "bob's download is missing or differs from the source", tail(listen_out));
    rep.hash_check = stored_ok && download_ok ? "ok" : "MISMATCH";

    RunResult h = as(bob, {"history", "alice", "--json", "--limit", "1000"});
    v.check(h.status == 0, "bob's history failed", h.err);
    check.evaluate(alice_texts(h.out));
    rep.count(check);
    MessageCheck via = check;
    via.evaluate(alice_texts(listen_out));
    // listen stops once the file is saved; texts sent before it were pushed before it.
    rep.count(via);
    v.check(check.lost == 0 && via.lost == 0, "an acknowledged text was lost", h.out);
    v.check(check.duplicated == 0 && via.duplicated == 0, "a text arrived twice", h.out);
    v.check(check.unexpected == 0 && via.unexpected == 0, "a text arrived that was never sent");

    v.check(resd.terminate() == 0, "ferry-resd did not stop cleanly");
    v.check(chatd.terminate() == 0, "ferry-chatd did not stop cleanly");
  }
  rep.seconds = seconds_since(t0);
  std::string report_json = link.stop();  // after every process in A and B is gone
  rep.chaos_summary = report_json;
  std::string ip = bench::ip_path();
  std::string netns = test::run({ip, "netns", "list"}).out;
  v.check(netns.find(link.ns_a) == std::string::npos && netns.find(link.ns_b) == std::string::npos,
          "ferry-link left a namespace behind", netns);
  check_link_report(rep, c);
  return rep;
}

}  // namespace

void add_link_scenarios(std::vector<Scenario>& out) {
  auto add = [&](std::string name, uint64_t seed, LinkCase c) {
    std::string what = c.spec;
    out.push_back({name, "link", seed, what,
                   [name, c](uint64_t s) { return link_scenario(name, s, c); }});
  };
  add("link_loss_1pct", 61, {"delay 10ms loss 1%", 4 * kMiB, 4, "random"});
  // Bad spells of about 3 packets (r = 30%), entered once in 200 packets, lose half their
  // packets: about 0.8% loss, in clumps, on a 60 ms round trip.
  add("link_bursty", 62, {"delay 30ms 5ms loss gemodel 0.5% 30% 50% 0%", 2 * kMiB, 3, "burst"});
  // 5% loss on a 100 ms round trip with duplicates, reordering and a rate cap: TCP crawls but
  // must deliver every byte once.
  add("link_loss_5pct", 63,
      {"delay 50ms 10ms loss 5% duplicate 1% reorder 2% rate 20mbit", 1 * kMiB, 3, "random"});
}

}  // namespace ferry::scenarios
