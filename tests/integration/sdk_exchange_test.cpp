// Proves, through the public SDK against the real ferry-chatd on loopback, that text messaging
// loses and duplicates nothing: a 2 x 10,000-message exchange in both directions at once,
// the same with a kill -9 of the server in the middle, a client that was offline, and an
// outbox filled while the server was down that survives an app restart, and clients sharing
// one loop thread.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/sdk_peer.h"

using namespace ferry::test;

namespace {

const char* kPassword = "correct horse battery";

struct Chatd {
  TempDir dir;
  Process proc;
  std::string data = dir.sub("chat");

  bool start(int port = 0) {
    return proc.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:" + std::to_string(port),
                       "--data", data, "--kdf-iterations", "1000"});
  }
};

// Checks what `to` received from `from`: every message `from` saw acknowledged arrived exactly
// once, nothing arrived that was never sent, and ids increase (server order).
void check_delivery(const SdkPeer& from, const std::set<std::string>& sent_cids,
                    const SdkPeer& to, const std::string& from_name) {
  std::map<std::string, int> seen;
  uint64_t last_id = 0;
  for (const auto& m : to.received) {
    if (m.from != from_name) continue;
    seen[m.cid]++;
    EXPECT_GT(m.id, last_id) << "out of server order";
    last_id = m.id;
    EXPECT_TRUE(sent_cids.count(m.cid)) << "unexpected message " << m.cid;
  }
  size_t lost = 0, dups = 0;
  for (const auto& [cid, id] : from.sent) {
    auto it = seen.find(cid);
    if (it == seen.end()) lost++;
    else if (it->second > 1) dups++;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(dups, 0u);
  EXPECT_EQ(from.sent_duplicates, 0);
}

}  // namespace

TEST(sdk_exchange, ten_thousand_both_ways) {
  Chatd chatd;
  ASSERT_TRUE(chatd.start());
  SdkPeer a(chatd.proc.address(), chatd.dir.sub("a"));
  SdkPeer b(chatd.proc.address(), chatd.dir.sub("b"));
  ASSERT_EQ(a.register_user("alice", kPassword), FERRY_OK);
  ASSERT_EQ(b.register_user("bob", kPassword), FERRY_OK);

  const int n = 10000;
  std::set<std::string> a_cids, b_cids;
  for (int i = 0; i < n; i++) {
    a_cids.insert(a.send("bob", "a->b " + std::to_string(i)));
    b_cids.insert(b.send("alice", "b->a " + std::to_string(i)));
  }
  ASSERT_EQ(a_cids.size(), size_t(n));
  auto done = [&] {
    return a.sent.size() == size_t(n) && b.sent.size() == size_t(n) &&
           a.received.size() >= size_t(n) && b.received.size() >= size_t(n);
  };
  // Pump both alternately until everything is acknowledged and delivered.
  ASSERT_TRUE(a.pump_until([&] { b.pump(0); return done(); }, 300000))
      << "a sent " << a.sent.size() << " b sent " << b.sent.size() << " a got "
      << a.received.size() << " b got " << b.received.size();
  EXPECT_EQ(a.received.size(), size_t(n));
  EXPECT_EQ(b.received.size(), size_t(n));
  check_delivery(a, a_cids, b, "alice");
  check_delivery(b, b_cids, a, "bob");
  // The texts arrive intact and in send order (one sender's messages keep their order).
  for (int i = 0; i < n; i++) ASSERT_EQ(b.received[i].text, "a->b " + std::to_string(i));
  EXPECT_EQ(chatd.proc.terminate(), 0);
}

TEST(sdk_exchange, server_killed_mid_exchange) {
  Chatd chatd;
  ASSERT_TRUE(chatd.start());
  int port = chatd.proc.port();
  SdkPeer a(chatd.proc.address(), chatd.dir.sub("a"));
  SdkPeer b(chatd.proc.address(), chatd.dir.sub("b"));
  ASSERT_EQ(a.register_user("alice", kPassword), FERRY_OK);
  ASSERT_EQ(b.register_user("bob", kPassword), FERRY_OK);

  // First a batch that is surely acknowledged, then a burst that the kill -9 cuts into: the
  // kill follows the burst's enqueueing at once, so part of it is in flight when the server
  // dies, without depending on how fast anything runs.
  const int first = 500, n = 4000;
  std::set<std::string> a_cids, b_cids;
  for (int i = 0; i < first; i++) {
    a_cids.insert(a.send("bob", "a " + std::to_string(i)));
    b_cids.insert(b.send("alice", "b " + std::to_string(i)));
  }
  ASSERT_TRUE(a.pump_until([&] { b.pump(0); return a.sent.size() == size_t(first) && b.sent.size() == size_t(first); }));
  for (int i = first; i < n; i++) {
    a_cids.insert(a.send("bob", "a " + std::to_string(i)));
    b_cids.insert(b.send("alice", "b " + std::to_string(i)));
  }
  chatd.proc.kill9();
  a.pump(0);
  std::map<std::string, uint64_t> acked_before_kill = a.sent;
  ASSERT_GE(acked_before_kill.size(), size_t(first));
  ASSERT_TRUE(chatd.start(port));

  // Done once everything is acknowledged and delivered *and* both clients came back online
  // by themselves: on a fast machine the whole burst may be acknowledged before the kill
  // lands, and the reconnect then happens after the last message.
  auto done = [&] {
    return a.sent.size() == size_t(n) && b.sent.size() == size_t(n) &&
           a.received.size() >= size_t(n) && b.received.size() >= size_t(n) &&
           a.online_transitions >= 2 && b.online_transitions >= 2;
  };
  ASSERT_TRUE(a.pump_until([&] { b.pump(0); return done(); }, 300000))
      << "a sent " << a.sent.size() << " b sent " << b.sent.size() << " a got "
      << a.received.size() << " b got " << b.received.size() << " a online "
      << a.online_transitions << "x, b online " << b.online_transitions
      << "x (clients should have reconnected by themselves)";
  // Acknowledged before the kill = still there with the same id after it.
  for (const auto& [cid, id] : acked_before_kill) EXPECT_EQ(a.sent[cid], id);
  EXPECT_EQ(a.received.size(), size_t(n));
  EXPECT_EQ(b.received.size(), size_t(n));
  check_delivery(a, a_cids, b, "alice");
  check_delivery(b, b_cids, a, "bob");
}

TEST(sdk_exchange, offline_client_gets_everything_on_login) {
  Chatd chatd;
  ASSERT_TRUE(chatd.start());
  std::string bob_state = chatd.dir.sub("b");
  {
    SdkPeer b(chatd.proc.address(), bob_state);
    ASSERT_EQ(b.register_user("bob", kPassword), FERRY_OK);
  }
  SdkPeer a(chatd.proc.address(), chatd.dir.sub("a"));
  ASSERT_EQ(a.register_user("alice", kPassword), FERRY_OK);
  std::set<std::string> cids;
  for (int i = 0; i < 300; i++) cids.insert(a.send("bob", "while you were out " + std::to_string(i)));
  ASSERT_TRUE(a.pump_until([&] { return a.sent.size() == 300; }));

  // Bob comes back with his stored session: no login call needed.
  SdkPeer b(chatd.proc.address(), bob_state);
  ASSERT_TRUE(b.pump_until([&] { return b.received.size() >= 300 && b.synced_count > 0; }));
  EXPECT_EQ(b.received.size(), 300u);
  check_delivery(a, cids, b, "alice");

  // A second device of bob's logging in fresh also gets the whole conversation.
  SdkPeer b2(chatd.proc.address(), "");
  ASSERT_EQ(b2.login("bob", kPassword), FERRY_OK);
  ASSERT_TRUE(b2.pump_until([&] { return b2.received.size() >= 300 && b2.synced_count > 0; }));
  EXPECT_EQ(b2.received.size(), 300u);
}

TEST(sdk_exchange, outbox_survives_app_restart_while_server_down) {
  Chatd chatd;
  ASSERT_TRUE(chatd.start());
  int port = chatd.proc.port();
  std::string a_state = chatd.dir.sub("a");
  SdkPeer b(chatd.proc.address(), chatd.dir.sub("b"));
  ASSERT_EQ(b.register_user("bob", kPassword), FERRY_OK);
  {
    SdkPeer a(chatd.proc.address(), a_state);
    ASSERT_EQ(a.register_user("alice", kPassword), FERRY_OK);
  }
  ASSERT_EQ(chatd.proc.terminate(), 0);
  std::set<std::string> cids;
  {
    // Server down: sends go to the outbox on disk; the app then quits.
    SdkPeer a(chatd.proc.address(), a_state);
    for (int i = 0; i < 50; i++) {
      int err = 0;
      cids.insert(a.send("bob", "queued " + std::to_string(i), &err));
      ASSERT_EQ(err, FERRY_OK);
    }
    a.pump(200);
    EXPECT_TRUE(a.sent.empty());
  }
  ASSERT_TRUE(chatd.start(port));
  SdkPeer a(chatd.proc.address(), a_state);  // the app starts again
  ASSERT_TRUE(a.pump_until([&] { b.pump(0); return a.sent.size() == 50 && b.received.size() == 50; }));
  check_delivery(a, cids, b, "alice");
}

TEST(sdk_exchange, send_to_unknown_user_fails_clearly) {
  Chatd chatd;
  ASSERT_TRUE(chatd.start());
  SdkPeer a(chatd.proc.address(), "");
  ASSERT_EQ(a.register_user("alice", kPassword), FERRY_OK);
  std::string cid = a.send("nobody", "hello?");
  ASSERT_FALSE(cid.empty());
  ASSERT_TRUE(a.pump_until([&] { return a.failed.count(cid) > 0; }));
  EXPECT_EQ(a.failed[cid], FERRY_EUNKNOWNUSER);
  // Wrong password and taken names are refused with their own codes.
  SdkPeer c(chatd.proc.address(), "");
  EXPECT_EQ(c.login("alice", "wrong password"), FERRY_EAUTH);
  EXPECT_EQ(c.register_user("alice", kPassword), FERRY_EUSEREXISTS);
  EXPECT_EQ(c.register_user("Bad Name", kPassword), FERRY_EBADUSER);
}

// Clients sharing one loop thread (ferry_loop_t) stay independent: each pair exchanges its own
// messages exactly once, one client destroyed mid-way leaves the others running, and a client
// created on the loop afterwards works too. The app's loop handle goes before the clients: they
// keep the thread alive until the last of them is destroyed.
TEST(sdk_exchange, clients_share_one_loop) {
  Chatd chatd;
  ASSERT_TRUE(chatd.start());
  ferry_loop_t* loop = nullptr;
  ASSERT_EQ(ferry_loop_new(&loop), FERRY_OK);
  const int pairs = 3, n = 500;
  auto name = [](int i) { return "user" + std::to_string(i); };
  std::vector<std::unique_ptr<SdkPeer>> peers;
  for (int i = 0; i < 2 * pairs; i++) {
    peers.push_back(std::make_unique<SdkPeer>(chatd.proc.address(), "", loop));
    ASSERT_EQ(peers.back()->register_user(name(i), kPassword), FERRY_OK);
  }

  std::vector<std::set<std::string>> cids(2 * pairs);
  auto send_round = [&](int from, int count, const std::string& tag) {
    for (int k = 0; k < count; k++)
      cids[from].insert(peers[from]->send(name(from ^ 1), tag + " " + std::to_string(k)));
  };
  // peers[0] stays for the whole test; its pump_until drives every live client.
  auto pump_all = [&](const std::function<bool()>& done) {
    return peers[0]->pump_until([&] {
      for (auto& p : peers)
        if (p) p->pump(0);
      return done();
    });
  };

  for (int i = 0; i < 2 * pairs; i++) send_round(i, n, "first");
  ASSERT_TRUE(pump_all([&] {
    for (auto& p : peers)
      if (p->sent.size() < size_t(n) || p->received.size() < size_t(n)) return false;
    return true;
  }));
  for (int i = 0; i < 2 * pairs; i++) {
    EXPECT_EQ(peers[i]->received.size(), size_t(n));
    check_delivery(*peers[i ^ 1], cids[i ^ 1], *peers[i], name(i ^ 1));
  }

  // Destroy one client (user5) while its partner and the other pairs keep exchanging.
  send_round(4, n, "second");
  send_round(5, 10, "last words");
  peers[5].reset();
  for (int i = 0; i < 4; i++) send_round(i, n, "second");
  ASSERT_TRUE(pump_all([&] {
    for (int i = 0; i < 4; i++)
      if (peers[i]->sent.size() < size_t(2 * n) || peers[i]->received.size() < size_t(2 * n))
        return false;
    return peers[4]->sent.size() == size_t(2 * n);
  }));
  for (int i = 0; i < 4; i++) check_delivery(*peers[i ^ 1], cids[i ^ 1], *peers[i], name(i ^ 1));

  // A new client on the same loop: user5 again, with a fresh login, gets both rounds from user4 by
  // sync, exactly once. The app's handle goes first; the clients' references keep the loop.
  peers[5] = std::make_unique<SdkPeer>(chatd.proc.address(), "", loop);
  ferry_loop_destroy(loop);
  ASSERT_EQ(peers[5]->login(name(5), kPassword), FERRY_OK);
  auto from_u4 = [&] {
    size_t k = 0;
    for (const auto& m : peers[5]->received) k += m.from == name(4);
    return k;
  };
  ASSERT_TRUE(peers[5]->pump_until([&] { return from_u4() >= size_t(2 * n); }));
  EXPECT_EQ(from_u4(), size_t(2 * n));
  check_delivery(*peers[4], cids[4], *peers[5], name(4));
  send_round(5, 10, "back");
  ASSERT_TRUE(pump_all([&] { return peers[5]->sent.size() == 10; }));
  peers.clear();  // the last clients end the shared loop's thread
  EXPECT_EQ(chatd.proc.terminate(), 0);
}
