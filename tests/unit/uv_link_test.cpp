// What: sdk/uv/uv_link.h's unsent limit (TCP_NOTSENT_LOWAT), as paced upload lanes use it.
// It is refused before the link is connected; once set, a file send (sendfile, which then moves
// at most about the limit per call and waits for the socket to drain) and the write behind it
// still arrive whole and in order.
// How: a real libuv loop on this thread with a listening socket on 127.0.0.1 (port 0) that
// reads everything; the link dials it.
#include <gtest/gtest.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "sdk/uv/uv_link.h"

namespace ferry::sdk {
namespace {

struct Server {
  uv_tcp_t listener;
  uv_tcp_t conn;
  std::string got;
  size_t want = 0;
  uv_loop_t* loop = nullptr;
};

TEST(UvLink, an_unsent_limit_paces_a_file_send_that_still_arrives_whole) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  Server srv;
  srv.loop = &loop;
  ASSERT_EQ(uv_tcp_init(&loop, &srv.listener), 0);
  srv.listener.data = &srv;
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  ASSERT_EQ(uv_tcp_bind(&srv.listener, reinterpret_cast<const sockaddr*>(&addr), 0), 0);
  ASSERT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&srv.listener), 1,
                      [](uv_stream_t* l, int status) {
                        ASSERT_EQ(status, 0);
                        auto* s = static_cast<Server*>(l->data);
                        uv_tcp_init(s->loop, &s->conn);
                        s->conn.data = s;
                        ASSERT_EQ(uv_accept(l, reinterpret_cast<uv_stream_t*>(&s->conn)), 0);
                        uv_read_start(
                            reinterpret_cast<uv_stream_t*>(&s->conn),
                            [](uv_handle_t*, size_t, uv_buf_t* b) {
                              static char buf[1 << 16];
                              *b = uv_buf_init(buf, sizeof buf);
                            },
                            [](uv_stream_t* c, ssize_t n, const uv_buf_t* b) {
                              auto* s = static_cast<Server*>(c->data);
                              if (n > 0) s->got.append(b->base, static_cast<size_t>(n));
                              if (n < 0 || s->got.size() >= s->want) uv_stop(s->loop);
                            });
                      }),
            0);
  struct sockaddr_storage bound;
  int len = sizeof bound;
  ASSERT_EQ(uv_tcp_getsockname(&srv.listener, reinterpret_cast<sockaddr*>(&bound), &len), 0);
  int port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  // 4 MiB of patterned bytes in a temp file, sent with a 64 KiB unsent limit: ~64 sendfile
  // rounds, each waiting for the socket to drain.
  char path[] = "/tmp/ferry-uv-link-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  std::string file(4u << 20, '\0');
  for (size_t i = 0; i < file.size(); i++) file[i] = static_cast<char>((i * 131) >> 7);
  ASSERT_EQ(write(fd, file.data(), file.size()), static_cast<ssize_t>(file.size()));
  srv.want = 5 + file.size() + 4;

  int connect_status = -1, limit_rc = -1, file_status = -1;
  UvLink* link = nullptr;
  LinkHooks hooks;
  hooks.on_connect = [&](int status, const std::string&) {
    connect_status = status;
    if (status != 0) return uv_stop(&loop);
    limit_rc = link->set_unsent_limit(64u << 10);
    link->write("head:");
    ASSERT_EQ(link->send_file(fd, 0, file.size(), [&](int st) { file_status = st; }), 0);
    link->write(":end");
  };
  hooks.on_read = [](const char*, size_t) {};
  hooks.on_lost = [&](int, const std::string&) { uv_stop(&loop); };
  int err = 0;
  std::string detail;
  link = UvLink::dial(&loop, "127.0.0.1", std::to_string(port), hooks, err, detail);
  ASSERT_NE(link, nullptr) << detail;
  EXPECT_EQ(link->set_unsent_limit(64u << 10), UV_ENOTCONN) << "not connected yet";
  uv_run(&loop, UV_RUN_DEFAULT);

  EXPECT_EQ(connect_status, 0);
  EXPECT_EQ(limit_rc, 0);
  EXPECT_EQ(file_status, 0);
  ASSERT_EQ(srv.got.size(), srv.want);
  EXPECT_EQ(srv.got.substr(0, 5), "head:");
  EXPECT_TRUE(srv.got.compare(5, file.size(), file) == 0) << "the file's bytes, in order";
  EXPECT_EQ(srv.got.substr(5 + file.size()), ":end");

  link->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&srv.conn), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&srv.listener), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  ::close(fd);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace ferry::sdk
