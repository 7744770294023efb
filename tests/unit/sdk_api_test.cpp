// Proves the C API's plumbing that needs no server: events are flattened into one block
// whose strings survive the source, the event fd is readable exactly while events wait
// (level-style), options validate their input, and every error code has a name and text.
// How: the API's internals are called directly (static library) and the fd is checked with
// poll(2) at timeout 0. No sockets, no sleeps.
#include <gtest/gtest.h>
#include <poll.h>

#include <cstring>
#include <string>

#include "sdk/api/event_build.h"
#include "sdk/api/event_queue.h"
#include "sdk/api/options.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

bool readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

ferry_event_t* make_event(int type) {
  Event e;
  e.type = type;
  return build_event(e);
}

TEST(sdk_api, event_fd_is_level_triggered) {
  EventQueue q;
  ASSERT_EQ(q.init(), 0);
  EXPECT_FALSE(readable(q.fd()));
  q.push(make_event(FERRY_EVENT_SYNCED));
  q.push(make_event(FERRY_EVENT_SYNCED));
  EXPECT_TRUE(readable(q.fd()));
  ferry_event_t* e = nullptr;
  ASSERT_EQ(q.pop(&e, 0), FERRY_OK);
  ferry_event_free(e);
  EXPECT_TRUE(readable(q.fd()));  // one still waits
  ASSERT_EQ(q.pop(&e, 0), FERRY_OK);
  ferry_event_free(e);
  EXPECT_FALSE(readable(q.fd()));
  EXPECT_EQ(q.pop(&e, 0), FERRY_ETIMEDOUT);
  q.push(make_event(FERRY_EVENT_SYNCED));  // left in the queue: freed by the destructor
  EXPECT_TRUE(readable(q.fd()));
}

TEST(sdk_api, history_event_owns_its_strings) {
  Event src;
  src.type = FERRY_EVENT_HISTORY;
  src.request_id = 5;
  src.peer = "bob";
  src.more = true;
  for (int i = 0; i < 3; i++) {
    Message m;
    m.id = 10 + i;
    m.cid = "cid" + std::to_string(i);
    m.from = "alice";
    m.to = "bob";
    m.text = std::string(100 * (i + 1), 'a' + i);
    m.status = FERRY_MSG_SENT;
    src.messages.push_back(m);
  }
  ferry_event_t* e = build_event(src);
  src = Event{};  // the event must not point into the source
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->type, FERRY_EVENT_HISTORY);
  EXPECT_EQ(e->request_id, 5u);
  EXPECT_STREQ(e->detail, "");
  EXPECT_STREQ(e->u.history.peer, "bob");
  ASSERT_EQ(e->u.history.count, 3u);
  EXPECT_EQ(e->u.history.more, 1);
  EXPECT_EQ(e->u.history.messages[2].id, 12u);
  EXPECT_EQ(std::strlen(e->u.history.messages[2].text), 300u);
  EXPECT_STREQ(e->u.history.messages[1].local_id, "cid1");
  EXPECT_STREQ(e->u.history.messages[0].kind, "text");
  ferry_event_free(e);
}

TEST(sdk_api, message_and_auth_events) {
  Event src;
  src.type = FERRY_EVENT_MESSAGE_STATUS;
  src.status = FERRY_EUNKNOWNUSER;
  src.detail = "no user named 'zed'";
  src.message.cid = "abc";
  src.message.to = "zed";
  src.message.status = FERRY_MSG_FAILED;
  ferry_event_t* e = build_event(src);
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ(e->detail, "no user named 'zed'");
  EXPECT_STREQ(e->u.message.to, "zed");
  EXPECT_EQ(e->u.message.status, FERRY_MSG_FAILED);
  ferry_event_free(e);
  Event auth;
  auth.type = FERRY_EVENT_AUTH;
  auth.user = "alice";
  auth.user_id = 3;
  e = build_event(auth);
  EXPECT_STREQ(e->u.auth.user, "alice");
  EXPECT_EQ(e->u.auth.user_id, 3u);
  ferry_event_free(e);
}

TEST(sdk_api, host_port_parsing) {
  std::string h, p;
  EXPECT_TRUE(parse_host_port("127.0.0.1:7420", h, p));
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, "7420");
  EXPECT_TRUE(parse_host_port("[::1]:80", h, p));
  EXPECT_EQ(h, "::1");
  EXPECT_TRUE(parse_host_port("chat.example:1", h, p));
  for (const char* bad : {"", "host", "host:", ":80", "host:0", "host:65536", "host:8x", "::1:80",
                          "[::1:80", "host:-1"}) {
    EXPECT_FALSE(parse_host_port(bad, h, p)) << bad;
  }
}

TEST(sdk_api, options_validate) {
  ferry_options_t* o = ferry_options_new();
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(ferry_options_set_server(o, "nope"), FERRY_EINVAL);
  EXPECT_EQ(ferry_options_set_server(o, "localhost:7420"), FERRY_OK);
  EXPECT_EQ(ferry_options_set_reconnect(o, 500, 100), FERRY_EINVAL);
  EXPECT_EQ(ferry_options_set_reconnect(o, 0, 100), FERRY_EINVAL);
  EXPECT_EQ(ferry_options_set_reconnect(o, 50, 100), FERRY_OK);
  EXPECT_EQ(ferry_options_set_heartbeat(o, 99), FERRY_EINVAL);
  EXPECT_EQ(ferry_options_set_heartbeat(o, 100), FERRY_OK);
  EXPECT_EQ(ferry_options_set_state_dir(o, ""), FERRY_EINVAL);
  EXPECT_EQ(ferry_options_set_receive(nullptr, 1), FERRY_EINVAL);
  ferry_options_destroy(o);
  ferry_client_t* c = nullptr;
  EXPECT_EQ(ferry_client_new(nullptr, &c), FERRY_EINVAL);
}

TEST(sdk_api, every_error_has_name_and_text) {
  for (int err = -1; err > FERRY_ERR_LAST_; err--) {
    EXPECT_STRNE(ferry_err_name(err), "FERRY_EUNKNOWN") << err;
    EXPECT_STRNE(ferry_strerror(err), "unknown error") << err;
  }
  EXPECT_STREQ(ferry_err_name(FERRY_EAUTH), "FERRY_EAUTH");
  EXPECT_STREQ(ferry_err_name(FERRY_ERR_LAST_), "FERRY_EUNKNOWN");
  EXPECT_EQ(ferry_version(), static_cast<unsigned>(FERRY_VERSION_HEX));
}

}  // namespace
}  // namespace ferry::sdk
