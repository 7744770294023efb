// Proves ferry-gui works end to end as a person would use it: real ferry-chatd and ferry-resd
// on 127.0.0.1 (ephemeral ports, temp dirs), the real app under Xvfb playing a script, and
// the results checked where they could fail — the script's exit status and message, the
// screenshot (the window's size, not one flat colour), the app's own state dump (bubbles,
// statuses, transfers) and the server's view through the `ferry` CLI (history, download).
//
// How: each test starts its own Xvfb on a display number the server picks (-displayfd),
// points DISPLAY at it, and stops it by pid with SIGTERM at the end. No timing assertions: every wait in the
// scripts has a generous deadline, and a missed one fails with the script's own message.
#include <cjson/cJSON.h>
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "tests/support/process.h"

namespace {

using ferry::test::bin_path;
using ferry::test::Process;
using ferry::test::run;
using ferry::test::RunResult;
using ferry::test::TempDir;

const int kWidth = 1000, kHeight = 700;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string sha256_of(const std::string& path) {
  RunResult r = run({"/usr/bin/sha256sum", path});
  return r.status == 0 ? r.out.substr(0, 64) : "";
}

using Json = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;

std::string str(const cJSON* j, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

// The JSON objects among the lines of `text`.
std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    cJSON* j = cJSON_Parse(line.c_str());
    if (j && cJSON_IsObject(j))
      out.emplace_back(j, cJSON_Delete);
    else
      cJSON_Delete(j);
  }
  return out;
}

// The bubbles of conversation `peer` in a ferry-gui state dump.
std::vector<const cJSON*> dump_bubbles(const cJSON* dump, const std::string& peer) {
  std::vector<const cJSON*> out;
  const cJSON* convs = cJSON_GetObjectItemCaseSensitive(dump, "conversations");
  const cJSON* c = nullptr;
  cJSON_ArrayForEach(c, convs) {
    if (str(c, "peer") != peer) continue;
    const cJSON* b = nullptr;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(c, "bubbles")) out.push_back(b);
  }
  return out;
}

// Checks a screenshot: a PNG of the window's size that is not one uniform colour.
void expect_screenshot(const std::string& path) {
  int w = 0, h = 0, comp = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &comp, 3);
  ASSERT_NE(px, nullptr) << "cannot read " << path;
  EXPECT_EQ(w, kWidth);
  EXPECT_EQ(h, kHeight);
  size_t distinct = 0;
  std::vector<bool> seen(1 << 15);
  for (size_t i = 0; i < size_t(w) * size_t(h); i++) {
    unsigned key = unsigned(px[i * 3] >> 3) << 10 | unsigned(px[i * 3 + 1] >> 3) << 5 |
                   unsigned(px[i * 3 + 2] >> 3);
    if (!seen[key]) distinct++, seen[key] = true;
  }
  stbi_image_free(px);
  EXPECT_GT(distinct, 8u) << path << " is (nearly) one flat colour";
}

// Pixels of exactly this colour in a PNG (the connection banner is drawn in 150,90,20).
size_t count_colour(const std::string& path, int r, int g, int b) {
  int w = 0, h = 0, comp = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &comp, 3);
  if (!px) return 0;
  size_t n = 0;
  for (size_t i = 0; i < size_t(w) * size_t(h); i++)
    n += px[i * 3] == r && px[i * 3 + 1] == g && px[i * 3 + 2] == b;
  stbi_image_free(px);
  return n;
}

bool wait_file(const std::string& path, int timeout_s) {
  for (int i = 0; i < timeout_s * 20; i++) {
    if (exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class GuiE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(start_xvfb()) << "no Xvfb display could be started: "
                              << read_file(dir.sub("xvfb.log"));
    ASSERT_TRUE(
        chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data", dir.sub("chat"),
                     "--secret-file", dir.sub("secret.key"), "--kdf-iterations", "1000"}));
    ASSERT_TRUE(resd.start({bin_path("ferry-resd"), "--listen", "127.0.0.1:0", "--data",
                            dir.sub("res"), "--secret-file", dir.sub("secret.key"), "--chat",
                            chatd.address(), "--http", "127.0.0.1:0"}));
    ASSERT_EQ(cli("alice", {"register", "alice", "alice-password"}).status, 0);
    ASSERT_EQ(cli("bob", {"register", "bob", "bob-password"}).status, 0);
  }

  // SIGTERM, not the destructor's SIGKILL: a killed Xvfb leaves /tmp/.X<n>-lock and its
  // socket behind, and on a CI machine that runs this suite again and again those pile up.
  void TearDown() override { xvfb.terminate(); }

  // Xvfb on a display number it picks itself (-displayfd): the server takes the first free
  // number, reclaims locks whose owner is dead, and settles races with a parallel test, so
  // no scan over lock files here can go stale. It writes the number to the pipe once it
  // listens.
  bool start_xvfb() {
    int fds[2];
    if (pipe(fds) != 0) return false;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);  // only the write end is Xvfb's
    bool spawned =
        xvfb.spawn({"/usr/bin/Xvfb", "-displayfd", std::to_string(fds[1]), "-screen", "0",
                    "1280x800x24", "-nolisten", "tcp"},
                   dir.sub("xvfb.log"));
    close(fds[1]);
    std::string num;
    for (int waited = 0; spawned && waited < 30000 && num.find('\n') == std::string::npos;) {
      struct pollfd p = {fds[0], POLLIN, 0};
      int r = poll(&p, 1, 100);
      waited += 100;
      if (r < 0) break;
      if (r == 0) continue;
      char buf[32];
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;  // Xvfb closed the pipe without a number: it failed
      num.append(buf, size_t(n));
    }
    close(fds[0]);
    size_t eol = num.find('\n');
    if (eol == std::string::npos || eol == 0) {
      xvfb.terminate();
      return false;
    }
    setenv("DISPLAY", (":" + num.substr(0, eol)).c_str(), 1);
    return true;
  }

  RunResult cli(const std::string& user, const std::vector<std::string>& rest) {
    std::vector<std::string> a = {bin_path("ferry"), "--server", chatd.address(), "--state",
                                  dir.sub(user)};
    a.insert(a.end(), rest.begin(), rest.end());
    return run(a, 180000);
  }

  // Runs ferry-gui with `script` (a final screenshot to shot.png); returns its result.
  RunResult gui(const std::string& state, const std::string& script) {
    return run(gui_argv(state, script), 300000);
  }

  std::vector<std::string> gui_argv(const std::string& state, const std::string& script) {
    write_file(dir.sub("script.txt"), script);
    std::vector<std::string> argv;
    // Mesa loads its DRI driver (llvmpipe) with dlopen and unloads it at glfwTerminate; what
    // the driver still holds at exit is then reported by LeakSanitizer at addresses of no
    // module, which no suppression can name. Preloading the driver keeps it mapped (and its
    // memory reachable). verify_asan_link_order=0 lets a preloaded library come before the
    // ASan runtime. Neither changes what ferry-gui itself does.
    const char* dri = "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so";
    if (exists(dri)) {
      const char* asan = std::getenv("ASAN_OPTIONS");
      argv = {"/usr/bin/env", std::string("LD_PRELOAD=") + dri,
              std::string("ASAN_OPTIONS=verify_asan_link_order=0") +
                  (asan ? ":" + std::string(asan) : "")};
    }
    std::vector<std::string> gui = {bin_path("ferry-gui"),
                                    "--server",
                                    chatd.address(),
                                    "--state",
                                    dir.sub(state),
                                    "--script",
                                    dir.sub("script.txt"),
                                    "--screenshot",
                                    dir.sub("shot.png"),
                                    "--size",
                                    std::to_string(kWidth) + "x" + std::to_string(kHeight)};
    argv.insert(argv.end(), gui.begin(), gui.end());
    return argv;
  }

  Json dump() { return Json(cJSON_Parse(read_file(dir.sub("dump.json")).c_str()), cJSON_Delete); }

  TempDir dir;  // declared first: destroyed after the processes that use it
  Process xvfb, chatd, resd;
};

// Alice logs in in the GUI, sends a text and drops an image; bob (CLI) gets both, and the
// image's bytes are the dropped file's.
TEST_F(GuiE2e, AliceSendsTextAndDroppedImageBobReceivesBoth) {
  std::string image = std::string(FERRY_SOURCE_DIR) + "/fixtures/media/sample-1280x720.jpg";
  std::string sha = sha256_of(image);
  ASSERT_EQ(sha.size(), 64u);
  RunResult r = gui("gui-alice",
                    "timeout 90\n"
                    "wait connected\n"
                    "login alice alice-password\n"
                    "wait login\n"
                    "wait online\n"
                    "open bob\n"
                    "type hello from the gui\n"
                    "send\n"
                    "wait status SENT \"hello from the gui\"\n"
                    "drop " +
                        image +
                        "\n"
                        "send\n"
                        "wait status READY sample-1280x720.jpg\n"
                        "wait thumbnails\n"
                        "dump " +
                        dir.sub("dump.json") + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  expect_screenshot(dir.sub("shot.png"));

  // The app's own view: the text SENT, then the image READY with its thumbnail.
  Json d = dump();
  ASSERT_TRUE(d) << read_file(dir.sub("dump.json"));
  EXPECT_EQ(str(d.get(), "user"), "alice");
  auto bubbles = dump_bubbles(d.get(), "bob");
  ASSERT_EQ(bubbles.size(), 2u);
  EXPECT_EQ(str(bubbles[0], "text"), "hello from the gui");
  EXPECT_EQ(str(bubbles[0], "status"), "SENT");
  EXPECT_EQ(str(bubbles[1], "kind"), "image");
  EXPECT_EQ(str(bubbles[1], "status"), "READY");
  EXPECT_EQ(str(bubbles[1], "sha256"), sha);
  EXPECT_GT(cJSON_GetObjectItemCaseSensitive(bubbles[1], "thumb_bytes")->valuedouble, 0);

  // The server's view through bob's CLI: both messages, in order, the image READY.
  RunResult h = cli("bob", {"history", "alice", "--json"});
  ASSERT_EQ(h.status, 0) << h.err;
  auto lines = json_lines(h.out);
  ASSERT_EQ(lines.size(), 2u) << h.out;
  EXPECT_EQ(str(lines[0].get(), "text"), "hello from the gui");
  EXPECT_EQ(str(lines[0].get(), "from"), "alice");
  EXPECT_EQ(str(lines[1].get(), "kind"), "image");
  EXPECT_EQ(str(lines[1].get(), "status"), "ready");
  EXPECT_EQ(str(lines[1].get(), "sha256"), sha);
  // And the bytes bob downloads are the dropped file's.
  double id = cJSON_GetObjectItemCaseSensitive(lines[1].get(), "id")->valuedouble;
  RunResult dl =
      cli("bob", {"download", std::to_string(uint64_t(id)), "--out", dir.sub("got.jpg")});
  ASSERT_EQ(dl.status, 0) << dl.err;
  EXPECT_EQ(sha256_of(dir.sub("got.jpg")), sha);
}

// Bob sends Chinese text and an image with the CLI; the GUI (a fresh state directory) shows
// the conversation with its unread count, the text, downloads the image on a click and shows
// it full size.
TEST_F(GuiE2e, ChineseTextAndImageFromCliShowInTheGui) {
  const std::string text = "你好，世界！这是来自 bob 的消息。";
  ASSERT_EQ(cli("bob", {"send", "alice", text}).status, 0);
  std::string image = std::string(FERRY_SOURCE_DIR) + "/fixtures/media/sample-640x480.png";
  RunResult s = cli("bob", {"send-file", "alice", image});
  ASSERT_EQ(s.status, 0) << s.err;
  RunResult r = gui("gui-alice",
                    "timeout 90\n"
                    "wait connected\n"
                    "login alice alice-password\n"
                    "wait online\n"
                    "wait synced\n"
                    "wait conversation bob\n"
                    "dump " +
                        dir.sub("before.json") +
                        "\n"
                        "open bob\n"
                        "wait message \"你好，世界\"\n"
                        "wait status READY sample-640x480.png\n"
                        "download sample-640x480.png\n"
                        "wait downloaded sample-640x480.png\n"
                        "view sample-640x480.png\n"
                        "wait thumbnails\n"
                        "dump " +
                        dir.sub("dump.json") + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  expect_screenshot(dir.sub("shot.png"));

  Json before(cJSON_Parse(read_file(dir.sub("before.json")).c_str()), cJSON_Delete);
  ASSERT_TRUE(before);
  const cJSON* conv =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(before.get(), "conversations"), 0);
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(str(conv, "peer"), "bob");
  EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(conv, "unread")->valuedouble, 2);

  Json d = dump();
  ASSERT_TRUE(d);
  auto bubbles = dump_bubbles(d.get(), "bob");
  ASSERT_EQ(bubbles.size(), 2u);
  EXPECT_EQ(str(bubbles[0], "text"), text);
  EXPECT_EQ(str(bubbles[0], "from"), "bob");
  EXPECT_EQ(str(bubbles[1], "kind"), "image");
  EXPECT_EQ(str(bubbles[1], "download"), "DONE");
  std::string path = str(bubbles[1], "download_path");
  EXPECT_EQ(sha256_of(path), sha256_of(image));
}

// The chat server goes away while the GUI is online: the app shows the "Reconnecting…"
// banner; the server comes back on the same port and the banner clears by itself, and a
// message typed afterwards goes out.
TEST_F(GuiE2e, ReconnectingBannerClearsItself) {
  Process app;
  ASSERT_TRUE(app.spawn(gui_argv("gui-alice",
                                 "timeout 120\n"
                                 "wait connected\n"
                                 "login alice alice-password\n"
                                 "wait online\n"
                                 "open bob\n"
                                 "dump " +
                                     dir.sub("online.json") +
                                     "\n"
                                     "wait offline\n"
                                     "screenshot " +
                                     dir.sub("offline.png") +
                                     "\n"
                                     "frames 3\n"
                                     "dump " +
                                     dir.sub("offline.json") +
                                     "\n"
                                     "wait online\n"
                                     "type back again\n"
                                     "send\n"
                                     "wait status SENT \"back again\"\n"),
                        dir.sub("gui.log")));
  ASSERT_TRUE(wait_file(dir.sub("online.json"), 120)) << read_file(dir.sub("gui.log"));
  int port = chatd.port();
  EXPECT_EQ(chatd.terminate(), 0);
  ASSERT_TRUE(wait_file(dir.sub("offline.json"), 120)) << read_file(dir.sub("gui.log"));
  Process chatd2;
  ASSERT_TRUE(chatd2.start({bin_path("ferry-chatd"), "--listen",
                            "127.0.0.1:" + std::to_string(port), "--data", dir.sub("chat"),
                            "--secret-file", dir.sub("secret.key"), "--kdf-iterations", "1000"}));
  ASSERT_EQ(app.wait(300000), 0) << read_file(dir.sub("gui.log"));

  EXPECT_GT(count_colour(dir.sub("offline.png"), 150, 90, 20), 1000u) << "no banner while offline";
  EXPECT_EQ(count_colour(dir.sub("shot.png"), 150, 90, 20), 0u) << "the banner stayed";
  expect_screenshot(dir.sub("offline.png"));
  RunResult h = run({bin_path("ferry"), "--server", chatd2.address(), "--state", dir.sub("bob"),
                     "history", "alice", "--json"});
  ASSERT_EQ(h.status, 0) << h.err;
  EXPECT_NE(h.out.find("back again"), std::string::npos) << h.out;
}

// A download shows its progress ring; a click on the ring pauses it (the SDK reports PAUSED,
// the bubble keeps its percentage), another click resumes it, and the file arrives whole.
// FERRY_DOWNLOAD_MAX_BPS (the SDK's test hook) slows the download so there is time to click.
TEST_F(GuiE2e, DownloadRingPausesAndResumes) {
  std::string file = dir.sub("big.bin");
  {
    std::ofstream f(file, std::ios::binary);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < (4 << 20) / 8; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      f.write(reinterpret_cast<const char*>(&x), 8);
    }
  }
  RunResult s = cli("bob", {"send-file", "alice", file, "--kind", "file"});
  ASSERT_EQ(s.status, 0) << s.err;
  setenv("FERRY_DOWNLOAD_MAX_BPS", "262144", 1);
  RunResult r = gui("gui-alice",
                    "timeout 120\n"
                    "wait connected\n"
                    "login alice alice-password\n"
                    "wait online\n"
                    "wait conversation bob\n"
                    "open bob\n"
                    "wait status READY big.bin\n"
                    "download big.bin\n"
                    "wait progress 5 big.bin\n"
                    "screenshot " +
                        dir.sub("ring.png") +
                        "\n"
                        "frames 3\n"
                        "pause big.bin\n"
                        "wait paused big.bin\n"
                        "dump " +
                        dir.sub("paused.json") +
                        "\n"
                        "pause big.bin\n"
                        "wait downloaded big.bin\n"
                        "dump " +
                        dir.sub("dump.json") + "\n");
  unsetenv("FERRY_DOWNLOAD_MAX_BPS");
  ASSERT_EQ(r.status, 0) << r.err;
  expect_screenshot(dir.sub("ring.png"));
  Json paused(cJSON_Parse(read_file(dir.sub("paused.json")).c_str()), cJSON_Delete);
  ASSERT_TRUE(paused);
  auto before = dump_bubbles(paused.get(), "bob");
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(str(before[0], "kind"), "file");
  EXPECT_EQ(str(before[0], "download"), "PAUSED");
  double pct = cJSON_GetObjectItemCaseSensitive(before[0], "download_percent")->valuedouble;
  EXPECT_GE(pct, 5);
  EXPECT_LT(pct, 100);
  Json d = dump();
  ASSERT_TRUE(d);
  auto after = dump_bubbles(d.get(), "bob");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(str(after[0], "download"), "DONE");
  EXPECT_EQ(sha256_of(str(after[0], "download_path")), sha256_of(file));
}

// A video from bob shows as its first frame with a play mark; once downloaded, a click plays
// it in the app (libavcodec into a texture) and frames keep coming.
TEST_F(GuiE2e, DownloadedVideoPlaysInTheApp) {
  std::string video = std::string(FERRY_SOURCE_DIR) + "/fixtures/media/sample-2s-640x360.mp4";
  RunResult s = cli("bob", {"send-file", "alice", video});
  ASSERT_EQ(s.status, 0) << s.err;
  RunResult r = gui("gui-alice",
                    "timeout 90\n"
                    "wait connected\n"
                    "login alice alice-password\n"
                    "wait online\n"
                    "wait conversation bob\n"
                    "open bob\n"
                    "wait status READY sample-2s\n"
                    "download sample-2s\n"
                    "wait downloaded sample-2s\n"
                    "play sample-2s\n"
                    "wait video 10\n"
                    "dump " +
                        dir.sub("dump.json") + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  expect_screenshot(dir.sub("shot.png"));
  Json d = dump();
  ASSERT_TRUE(d);
  auto bubbles = dump_bubbles(d.get(), "bob");
  ASSERT_EQ(bubbles.size(), 1u);
  EXPECT_EQ(str(bubbles[0], "kind"), "video");
  EXPECT_GT(cJSON_GetObjectItemCaseSensitive(bubbles[0], "thumb_bytes")->valuedouble, 0);
  EXPECT_EQ(sha256_of(str(bubbles[0], "download_path")), sha256_of(video));
}

// A wait that cannot be met fails the script with the line and a reason, and exit status 1.
TEST_F(GuiE2e, UnmetWaitFailsWithAClearMessage) {
  RunResult r = gui("gui-alice",
                    "timeout 3\n"
                    "wait connected\n"
                    "login alice alice-password\n"
                    "wait online\n"
                    "open bob\n"
                    "wait message \"never sent\"\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("line 6"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
}

}  // namespace
