// Proves the GUI's model turns ferry events into the right bubbles: one bubble per message
// however many events name it (send, status, history, sync), server order with pending sends
// last, unread counts, media progress and downloads, and the script runner's waits over it.
// Events are built by hand as the SDK would deliver them; no window, no server.
#include "gui/model/model.h"

#include <gtest/gtest.h>

#include "gui/app/state_dump.h"
#include "gui/script/runner.h"

using namespace ferry::gui;

namespace {

ferry_event_t event(int type) {
  ferry_event_t ev{};
  ev.type = type;
  ev.detail = "";
  return ev;
}

ferry_message_t msg(uint64_t id, const char* lid, const char* from, const char* to,
                    const char* text, int status = FERRY_MSG_SENT) {
  ferry_message_t m{};
  m.id = id;
  m.local_id = lid;
  m.from = from;
  m.to = to;
  m.kind = "text";
  m.text = text;
  m.ts_ms = id ? 1764200000000 + int64_t(id) : 0;
  m.status = status;
  return m;
}

void deliver(AppModel& model, const ferry_message_t& m, int type = FERRY_EVENT_MESSAGE) {
  ferry_event_t ev = event(type);
  ev.u.message = m;
  model.apply(ev);
}

std::vector<uint64_t> ids(const Conversation& c) {
  std::vector<uint64_t> out;
  for (const Message& m : c.messages) out.push_back(m.id);
  return out;
}

class FakeHost : public ScriptHost {
 public:
  AppModel m;
  AppModel& model() override { return m; }
  bool perform(const Action&, std::string*) override { return true; }
  bool textures_idle() override { return true; }
};

}  // namespace

TEST(GuiModel, OwnSendBecomesSentInPlace) {
  AppModel model;
  model.set_user("alice");
  deliver(model, msg(5, "c5", "bob", "alice", "earlier"));
  model.add_outgoing_text("bob", "L1", "hello");
  Conversation* c = model.find("bob");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(ids(*c), (std::vector<uint64_t>{5, 0}));
  EXPECT_EQ(c->messages.back().status, MsgStatus::kPending);
  // A message that arrives while ours is pending goes before it: pending sends stay last.
  deliver(model, msg(6, "c6", "bob", "alice", "while pending"));
  EXPECT_EQ(ids(*c), (std::vector<uint64_t>{5, 6, 0}));
  deliver(model, msg(7, "L1", "alice", "bob", "hello"), FERRY_EVENT_MESSAGE_STATUS);
  EXPECT_EQ(ids(*c), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(c->messages.back().status, MsgStatus::kSent);
  EXPECT_EQ(c->messages.back().text, "hello");
  // History naming the same messages adds nothing.
  ferry_event_t h = event(FERRY_EVENT_HISTORY);
  ferry_message_t page[] = {msg(4, "c4", "alice", "bob", "oldest"),
                            msg(5, "c5", "bob", "alice", "earlier"),
                            msg(7, "L1", "alice", "bob", "hello")};
  h.u.history.peer = "bob";
  h.u.history.messages = page;
  h.u.history.count = 3;
  h.u.history.more = 0;
  model.apply(h);
  EXPECT_EQ(ids(*c), (std::vector<uint64_t>{4, 5, 6, 7}));
  EXPECT_FALSE(c->more_history);
  EXPECT_EQ(c->oldest_id(), 4u);
}

TEST(GuiModel, UnreadCountsAndOrdering) {
  AppModel model;
  model.set_user("alice");
  deliver(model, msg(1, "a", "bob", "alice", "hi"));
  deliver(model, msg(2, "b", "carol", "alice", "hey"));
  deliver(model, msg(3, "c", "bob", "alice", "there?"));
  EXPECT_EQ(model.find("bob")->unread, 2);
  EXPECT_EQ(model.find("carol")->unread, 1);
  auto list = model.conversations_by_activity();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]->peer, "bob");  // newest activity first
  model.open("bob");
  EXPECT_EQ(model.find("bob")->unread, 0);
  deliver(model, msg(4, "d", "bob", "alice", "open now"));
  EXPECT_EQ(model.find("bob")->unread, 0);  // the open conversation gets no badge
  deliver(model, msg(5, "e", "alice", "carol", "from my other device"));
  EXPECT_EQ(model.find("carol")->unread, 1);  // own messages never count
}

TEST(GuiModel, MediaUploadProgressAndDownload) {
  AppModel model;
  model.set_user("alice");
  Message& out = model.add_outgoing_file("bob", "F1", "/tmp/p.jpg", "p.jpg");
  EXPECT_TRUE(out.is_media());
  ferry_media_t media{};
  media.kind = FERRY_KIND_IMAGE;
  media.name = "p.jpg";
  media.size = 1000;
  media.mime = "image/jpeg";
  media.sha256 = "ab";
  unsigned char thumb[3] = {1, 2, 3};
  media.thumb = thumb;
  media.thumb_len = 3;
  ferry_message_t m = msg(0, "F1", "alice", "bob", "", FERRY_MSG_PENDING);
  m.media = &media;
  deliver(model, m, FERRY_EVENT_MESSAGE_STATUS);
  Message* b = model.find_local("F1");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->kind, MediaKind::kImage);
  EXPECT_EQ(b->thumb.size(), 3u);
  EXPECT_EQ(b->local_path, "/tmp/p.jpg");  // kept across status events (retry needs it)

  ferry_event_t p = event(FERRY_EVENT_UPLOAD_PROGRESS);
  p.u.progress.local_id = "F1";
  p.u.progress.message_id = 9;
  p.u.progress.done = 250;
  p.u.progress.total = 1000;
  p.u.progress.outgoing = 1;
  model.apply(p);
  b = model.find_id(9);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->local_id, "F1");
  EXPECT_DOUBLE_EQ(b->upload_fraction(), 0.25);

  m.id = 9;
  m.status = FERRY_MSG_READY;
  deliver(model, m, FERRY_EVENT_MESSAGE_STATUS);
  EXPECT_EQ(model.find_id(9)->status, MsgStatus::kReady);
  EXPECT_DOUBLE_EQ(model.find_id(9)->upload_fraction(), 1.0);

  ferry_event_t d = event(FERRY_EVENT_DOWNLOAD_PROGRESS);
  d.u.download.message_id = 9;
  d.u.download.state = FERRY_DOWNLOAD_FETCHING;
  d.u.download.done = 500;
  d.u.download.total = 1000;
  d.u.download.path = "/tmp/dl";
  model.apply(d);
  EXPECT_EQ(model.find_id(9)->download, DownloadState::kFetching);
  EXPECT_DOUBLE_EQ(model.find_id(9)->download_fraction(), 0.5);
  d.type = FERRY_EVENT_DOWNLOAD_STATUS;
  d.u.download.state = FERRY_DOWNLOAD_DONE;
  d.u.download.done = 1000;
  model.apply(d);
  EXPECT_EQ(model.find_id(9)->download, DownloadState::kDone);
  EXPECT_EQ(model.find_id(9)->download_path, "/tmp/dl");
  std::string dump = state_dump_json(model);
  EXPECT_NE(dump.find("\"download\":\t\"DONE\""), std::string::npos) << dump;
  EXPECT_NE(dump.find("\"kind\":\t\"image\""), std::string::npos) << dump;
}

TEST(GuiModel, FailedSendRetriesUnderANewId) {
  AppModel model;
  model.set_user("alice");
  model.add_outgoing_text("nobody", "L1", "hello?");
  ferry_event_t ev = event(FERRY_EVENT_MESSAGE_STATUS);
  ev.status = FERRY_EUNKNOWNUSER;
  ev.u.message = msg(0, "L1", "alice", "nobody", "hello?", FERRY_MSG_FAILED);
  model.apply(ev);
  Message* m = model.find_local("L1");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->status, MsgStatus::kFailed);
  EXPECT_EQ(m->error, FERRY_EUNKNOWNUSER);
  model.reset_for_retry(*m, "L2");
  EXPECT_EQ(model.find_local("L1"), nullptr);
  ASSERT_NE(model.find_local("L2"), nullptr);
  EXPECT_EQ(model.find_local("L2")->status, MsgStatus::kPending);
  EXPECT_EQ(model.find("nobody")->messages.size(), 1u);
}

TEST(GuiModel, ConnectionAndAuth) {
  AppModel model;
  ferry_event_t ev = event(FERRY_EVENT_CONNECTION);
  ev.u.connection.state = FERRY_CONN_OFFLINE;
  ev.status = FERRY_ECONNREFUSED;
  ev.detail = "connection refused";
  model.apply(ev);
  EXPECT_EQ(model.connection().state, FERRY_CONN_OFFLINE);
  EXPECT_EQ(model.connection().detail, "connection refused");
  model.auth_request = 3;
  ferry_event_t a = event(FERRY_EVENT_AUTH);
  a.request_id = 3;
  a.status = FERRY_EAUTH;
  a.detail = "wrong password";
  model.apply(a);
  EXPECT_EQ(model.auth_result, FERRY_EAUTH);
  EXPECT_TRUE(model.user().empty());
  a.status = FERRY_OK;
  a.u.auth.user = "alice";
  model.apply(a);
  EXPECT_EQ(model.auth_result, 0);
  EXPECT_EQ(model.user(), "alice");
}

TEST(GuiRunner, WaitsHoldOnTheModelAndTimeOutWithAReason) {
  FakeHost host;
  host.m.set_user("alice");
  std::vector<Action> actions;
  std::string err;
  ASSERT_TRUE(
      parse_script("timeout 1\nopen bob\nwait message \"你好\"\n"
                   "wait status SENT 你好\nwait status READY\nquit\n",
                   &actions, &err));
  ScriptRunner r(actions);
  auto t0 = ScriptRunner::Clock::now();
  host.m.open("bob");                                          // what the host's `open` would do
  EXPECT_EQ(r.step(host, t0), ScriptRunner::State::kRunning);  // open: one frame
  EXPECT_EQ(r.step(host, t0), ScriptRunner::State::kRunning);  // waiting for the message
  deliver(host.m, msg(1, "x", "bob", "alice", "你好，世界"));
  EXPECT_EQ(r.step(host, t0), ScriptRunner::State::kRunning);  // now at `wait status READY`
  EXPECT_EQ(r.step(host, t0 + std::chrono::seconds(2)), ScriptRunner::State::kFailed);
  EXPECT_NE(r.error().find("line 5"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("timed out"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("SENT"), std::string::npos) << r.error();
}

TEST(GuiModel, AnotherUserLoggingInClearsTheConversations) {
  AppModel model;
  model.set_user("alice");
  deliver(model, msg(1, "a", "bob", "alice", "for alice"));
  ferry_event_t a = event(FERRY_EVENT_AUTH);
  a.u.auth.user = "alice";  // the same user again (a stored session): nothing goes
  model.apply(a);
  EXPECT_EQ(model.conversation_count(), 1u);
  a.u.auth.user = "carol";
  model.apply(a);
  EXPECT_EQ(model.conversation_count(), 0u);
  EXPECT_EQ(model.find_id(1), nullptr);
  EXPECT_EQ(model.user(), "carol");
}
