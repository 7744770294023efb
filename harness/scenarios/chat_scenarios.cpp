// Message scenarios: ferry-chaos in front of ferry-chatd. alice sends texts through the proxy,
// one `ferry send` each; whatever was not acknowledged goes out with a last direct send (the
// outbox). The server's history (read directly) and bob's `listen` (through the proxy, or
// directly where a live connection cannot recover) are checked the Jepsen way: every
// acknowledged text exactly once, nothing that was never sent.
#include <chrono>
#include <functional>

#include "harness/scenarios/catalog.h"
#include "harness/scenarios/rigs.h"
#include "harness/scenarios/util.h"

namespace ferry::scenarios {
namespace {

using test::read_text;
using test::RunResult;
using test::wait_for;

struct ChatOptions {
  int messages = 10;
  // bob reads his messages with `listen` through the proxy; false: directly (for faults a
  // live connection cannot recover from, see chat_drop).
  bool listen_via_proxy = true;
  std::function<void(ChatRig&, MessageCheck&, Verdict&)> before;  // e.g. a send in a blackhole
};

ScenarioReport chat_scenario(const std::string& name, uint64_t seed,
                             const std::vector<std::string>& faults, const ChatOptions& opt = {}) {
  ScenarioReport rep;
  rep.name = name;
  rep.seed = seed;
  Verdict& v = rep.verdict;
  ChatRig rig;
  if (!rig.start(seed, faults, v)) return rep;
  MessageCheck check;
  auto t0 = std::chrono::steady_clock::now();
  if (opt.before) opt.before(rig, check, v);
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
  v.check(fr.status == 0, "the direct flush send failed", fr.err);
  if (fr.status == 0) check.acked.push_back(flush);

  RunResult h = rig.bob.run({"history", "alice", "--json", "--limit", "1000"}, 60000);
  v.check(h.status == 0, "bob's history failed", h.err);
  std::vector<std::string> stored = alice_texts(h.out);
  check.evaluate(stored);
  rep.count(check);

  MessageCheck via = check;
  if (opt.listen_via_proxy) rig.clients_via++;
  const CliUser& reader = opt.listen_via_proxy ? rig.bob_via : rig.bob;
  RunResult l = reader.run(
      {"listen", "--json", "--count", std::to_string(stored.size()), "--timeout", "30"}, 60000);
  std::string listen_out = l.out + l.err;
  v.check(l.status == 0,
          "bob's listen did not see all " + std::to_string(stored.size()) + " messages",
          tail(listen_out));
  via.evaluate(alice_texts(l.out));
  rep.count(via);
  rep.seconds = seconds_since(t0);
  rep.chaos_summary = rig.chaos.stop();
  rep.bytes_sent = summary_num(rep.chaos_summary, "up", "bytes_in");
  uint64_t conns = summary_num(rep.chaos_summary, "", "connections");
  rep.resumes = conns > rig.clients_via ? conns - rig.clients_via : 0;
  v.check(check.lost == 0, "acknowledged but missing from the server's history", h.out);
  v.check(check.duplicated == 0, "stored more than once", h.out);
  v.check(check.unexpected == 0, "stored but never sent", h.out);
  v.check(via.lost == 0, "acknowledged but not delivered to bob's listen", tail(listen_out));
  v.check(via.duplicated == 0, "delivered twice to bob's listen", tail(listen_out));
  v.check(via.unexpected == 0, "delivered but never sent", tail(listen_out));
  return rep;
}

// The fault must have fired, or the run proves nothing (vacuous).
ScenarioReport expect_fired(ScenarioReport rep, const std::string& key) {
  if (both_dirs(rep.chaos_summary, key) == 0) rep.vacuous = "the seed injected no '" + key + "'";
  return rep;
}

// A first send while the proxy misbehaves as `bad` says; the test waits until the proxy's
// counter `key` (direction `dir`) shows it, undoes it with `good`, and that send must then
// get through under the same client id.
ChatOptions first_send_through(std::string tag, std::string bad, std::string dir, std::string key,
                               std::string good) {
  ChatOptions o;
  o.messages = 4;
  o.before = [=](ChatRig& rig, MessageCheck& check, Verdict& v) {
    v.check(rig.chaos.control(bad) == "ok", "control '" + bad + "' refused");
    std::string text = tag + "-first";
    check.attempted.push_back(text);
    rig.clients_via++;
    Process send;
    std::string log = rig.dir.sub("first-send.log");
    if (!v.check(send.spawn(rig.alice_via.argv({"send", "bob", text, "--timeout", "60"}), log),
                 "cannot start ferry send"))
      return;
    v.check(wait_for([&] { return rig.chaos.stat(dir, key) > 0; }, 30000),
            "ferry-chaos never counted " + key, read_text(log));
    v.check(rig.chaos.control(good) == "ok", "control '" + good + "' refused");
    int st = send.wait(90000);
    v.check(st == 0, "the first send did not get through", read_text(log));
    if (st == 0) check.acked.push_back(text);
  };
  return o;
}

}  // namespace

void add_chat_scenarios(std::vector<Scenario>& out) {
  auto add = [&](std::string name, uint64_t seed, std::string what,
                 std::function<ScenarioReport(uint64_t)> play) {
    out.push_back({std::move(name), "chat", seed, std::move(what), std::move(play)});
  };
  // A lost frame on a live TCP connection is only recovered by a reconnect; bob's listen
  // through the same lossy proxy could wait forever for a dropped push, so bob reads directly.
  add("chat_drop", 21, "5% of frames dropped (bob reads directly)", [](uint64_t seed) {
    ChatOptions o;
    o.listen_via_proxy = false;
    o.messages = 8;
    return expect_fired(chat_scenario("chat_drop", seed, {"--drop", "0.05"}, o), "drop");
  });
  add("chat_dup", 22, "20% of frames duplicated", [](uint64_t seed) {
    return expect_fired(chat_scenario("chat_dup", seed, {"--dup", "0.2"}), "dup");
  });
  add("chat_reorder", 23, "20% of frames held back up to 50 ms", [](uint64_t seed) {
    return expect_fired(
        chat_scenario("chat_reorder", seed, {"--reorder", "0.2", "--reorder-ms", "50"}),
        "reorder");
  });
  add("chat_delay_jitter", 24, "20 ms delay with 40 ms jitter", [](uint64_t seed) {
    return expect_fired(chat_scenario("chat_delay_jitter", seed, {"--delay", "20:40"}),
                        "delayed");
  });
  add("chat_cut_prob", 25, "each frame resets its connection with p=0.05", [](uint64_t seed) {
    return expect_fired(chat_scenario("chat_cut_prob", seed, {"--cut-prob", "0.05"}), "cut");
  });
  // The proxy refuses every new connection until one was refused (a fixed window from start
  // would race the clients' start-up on a loaded machine); the first send keeps retrying with
  // backoff and gets through once the refusing stops.
  add("chat_refuse", 26, "new connections refused until one was, then accepted",
      [](uint64_t seed) {
        auto rep = chat_scenario(
            "chat_refuse", seed, {},
            first_send_through("chat_refuse", "refuse 3600000", "", "refused", "refuse 0"));
        rep.verdict.check(summary_num(rep.chaos_summary, "", "refused") > 0, "nothing refused");
        return rep;
      });
  // The first send's connection goes half-open after the server's first 300 bytes (about its
  // HELLO and the auth response; what follows is cut off, mid-frame); the client notices
  // through heartbeats, reconnects and resends under the same cid.
  add("chat_blackhole", 27, "server→client half-open after 300 bytes, then healed",
      [](uint64_t seed) {
        auto rep = chat_scenario("chat_blackhole", seed, {},
                                 first_send_through("chat_blackhole",
                                                    "set down_blackhole_after_bytes 300", "down",
                                                    "blackhole",
                                                    "set down_blackhole_after_bytes 0"));
        rep.verdict.check(both_dirs(rep.chaos_summary, "blackhole") > 0, "no blackhole");
        rep.verdict.check(rep.resumes >= 1, "the client never reconnected");
        return rep;
      });
  add("chat_mixed", 28, "fixtures/scenarios/chat-lossy.json", [](uint64_t seed) {
    ChatOptions o;
    o.messages = 8;
    o.listen_via_proxy = false;
    auto rep = chat_scenario("chat_mixed", seed, {"--scenario", fixture("chat-lossy.json")}, o);
    const std::string& s = rep.chaos_summary;
    if (both_dirs(s, "drop") + both_dirs(s, "dup") + both_dirs(s, "reorder") +
            both_dirs(s, "cut") ==
        0)
      rep.vacuous = "the mix injected nothing";
    return rep;
  });
}

}  // namespace ferry::scenarios
