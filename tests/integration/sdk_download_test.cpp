// Proves the SDK's downloads end to end against the real servers (ferry-chatd and ferry-resd
// with --http 127.0.0.1:0 on loopback): alice uploads with ferry_send_file, bob downloads
// with ferry_download:
//  - the bytes are identical, no partial file is left, a signed URL is handed out;
//  - ferry-resd killed (SIGKILL) mid-download and restarted on the same HTTP port: the
//    download retries, resumes from a non-zero offset and completes with the right hash;
//  - the downloading process killed (the `ferry download` CLI, SIGKILL) and run again: it
//    resumes from the partial file's bytes and completes;
//  - a message still uploading: FERRY_ENOTREADY (SDK and CLI), nothing written;
//  - pause keeps the partial, resume continues from it, cancel deletes it;
//  - split downloads (several ranged requests at once, as on a long path; forced here with
//    FERRY_DOWNLOAD_SEGMENTS): identical bytes and no record left; the CLI killed mid-way
//    and run again resumes every segment from the record; a damaged record or one left
//    without its partial makes the download start over, never a corrupt file.
//
// Slow enough to interrupt: FERRY_DOWNLOAD_MAX_BPS (docs/sdk.md section 10) caps the
// download rate of clients created while it is set (the CLI child inherits it). Nothing here
// asserts on timing: every wait is for a condition, with a generous deadline.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ferry.h"
#include "tests/integration/upload_e2e_support.h"
#include "tests/support/process.h"
#include "tests/support/sdk_peer.h"

namespace ferry::test {
namespace {

namespace fs = std::filesystem;

// What one client saw of its downloads, by message id.
struct Dl {
  std::vector<int> states;         // DOWNLOAD_STATUS states in order
  std::vector<uint64_t> fetch_at;  // `done` of each FETCHING (the offset it started from)
  uint64_t progress = 0;           // last DOWNLOAD_PROGRESS done
  int final_state = 0;
  int err = 0;
  std::string detail, path;
};

struct Events {
  std::map<uint64_t, Dl> dl;
  std::map<std::string, int> upload_status;       // alice: local id -> message status
  std::map<std::string, uint64_t> upload_id;      // local id -> message id
  std::map<uint64_t, const ferry_event_t*> urls;  // by request id (owned)
  ~Events() {
    for (auto& [rid, ev] : urls) ferry_event_free(const_cast<ferry_event_t*>(ev));
  }
  // Returns true when the event was kept (and must not be freed).
  bool handle(ferry_event_t* ev) {
    switch (ev->type) {
      case FERRY_EVENT_DOWNLOAD_PROGRESS:
        dl[ev->u.download.message_id].progress = ev->u.download.done;
        break;
      case FERRY_EVENT_DOWNLOAD_STATUS: {
        Dl& d = dl[ev->u.download.message_id];
        int st = ev->u.download.state;
        d.states.push_back(st);
        if (st == FERRY_DOWNLOAD_FETCHING) d.fetch_at.push_back(ev->u.download.done);
        if (st >= FERRY_DOWNLOAD_DONE) {
          d.final_state = st;
          d.err = ev->status;
          d.detail = ev->detail;
          d.path = ev->u.download.path;
        }
        break;
      }
      case FERRY_EVENT_MESSAGE_STATUS:
        if (ev->u.message.local_id && *ev->u.message.local_id) {
          upload_status[ev->u.message.local_id] = ev->u.message.status;
          if (ev->u.message.id) upload_id[ev->u.message.local_id] = ev->u.message.id;
        }
        break;
      case FERRY_EVENT_DOWNLOAD_URL:
        urls[ev->request_id] = ev;
        return true;
      default:
        break;
    }
    return false;
  }
};

bool pump(const std::vector<std::pair<ferry_client_t*, Events*>>& clients,
          const std::function<bool()>& pred, int timeout_ms = 180000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    bool any = false;
    for (auto [c, e] : clients) {
      ferry_event_t* ev = nullptr;
      while (ferry_poll_event(c, &ev, 0) == FERRY_OK) {
        any = true;
        if (!e->handle(ev)) ferry_event_free(ev);
      }
    }
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Sets FERRY_DOWNLOAD_MAX_BPS for as long as it lives (clients read it when created).
struct Throttle {
  explicit Throttle(uint64_t bps) {
    setenv("FERRY_DOWNLOAD_MAX_BPS", std::to_string(bps).c_str(), 1);
  }
  ~Throttle() { unsetenv("FERRY_DOWNLOAD_MAX_BPS"); }
};

// Sets FERRY_DOWNLOAD_SEGMENTS for as long as it lives: downloads split into this many
// ranged requests at once even on loopback (docs/sdk.md section 10).
struct Segments {
  explicit Segments(int n) { setenv("FERRY_DOWNLOAD_SEGMENTS", std::to_string(n).c_str(), 1); }
  ~Segments() { unsetenv("FERRY_DOWNLOAD_SEGMENTS"); }
};

// Both, for clients (and CLI children) created while it lives; segments 0 = not forced.
struct SlowDownloads {
  SlowDownloads(uint64_t bps, int segments) : throttle(bps) {
    if (segments > 0) split = std::make_unique<Segments>(segments);
  }
  Throttle throttle;
  std::unique_ptr<Segments> split;
};

// The split-download record next to a partial (sdk/core/download_segments.h): per segment
// its start, end and bytes held. Empty when there is none.
struct SegmentLine {
  uint64_t start = 0, end = 0, done = 0;
};
std::vector<SegmentLine> read_segments(const std::string& path) {
  std::vector<SegmentLine> out;
  std::ifstream in(path);
  std::string head;
  if (!std::getline(in, head)) return out;
  SegmentLine l;
  while (in >> l.start >> l.end >> l.done) out.push_back(l);
  return out;
}

// What a record says is held: bytes, and how many parts have any.
struct Held {
  uint64_t bytes = 0;
  int parts_with_bytes = 0;
};
Held held_in(const std::vector<SegmentLine>& rec) {
  Held h;
  for (const SegmentLine& l : rec) {
    h.bytes += l.done;
    if (l.done > 0) h.parts_with_bytes++;
  }
  return h;
}

class SdkDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data", dir.sub("chat"),
                     "--secret-file", dir.sub("secret.key"), "--kdf-iterations", "1000"}));
    ASSERT_TRUE(start_resd(0));
    alice = std::make_unique<SdkPeer>(chatd.address(), dir.sub("alice"));
    bob = std::make_unique<SdkPeer>(chatd.address(), dir.sub("bob"));
    ASSERT_EQ(alice->register_user("alice", "alice-password"), FERRY_OK);
    ASSERT_EQ(bob->register_user("bob", "bob-password"), FERRY_OK);
  }
  void TearDown() override {
    bob.reset();
    alice.reset();
    if (resd.pid() > 0) {
      EXPECT_EQ(resd.terminate(), 0);
    }
    if (chatd.pid() > 0) {
      EXPECT_EQ(chatd.terminate(), 0);
    }
  }
  // HTTP on `http_port` (0 = any); Process::port() is then the HTTP port.
  bool start_resd(int http_port) {
    return resd.start({bin_path("ferry-resd"), "--listen", "127.0.0.1:0", "--http",
                       "127.0.0.1:" + std::to_string(http_port), "--data", dir.sub("res"),
                       "--secret-file", dir.sub("secret.key"), "--chat", chatd.address()},
                      "http listening on ");
  }
  // alice sends a file of `size` noise bytes to bob and waits until it is READY.
  uint64_t upload(uint64_t size, uint64_t seed, std::string& path) {
    path = dir.sub("src-" + std::to_string(seed) + ".bin");
    write_noise_file(path, size, seed);
    char id[FERRY_LOCAL_ID_SIZE];
    EXPECT_EQ(ferry_send_file(alice->client(), "bob", path.c_str(), FERRY_KIND_FILE, nullptr, id),
              FERRY_OK);
    std::string lid = id;
    bool ok = pump({{alice->client(), &ea}, {bob->client(), &eb}}, [&] {
      auto it = ea.upload_status.find(lid);
      return it != ea.upload_status.end() &&
             (it->second == FERRY_MSG_READY || it->second == FERRY_MSG_FAILED);
    });
    EXPECT_TRUE(ok);
    EXPECT_EQ(ea.upload_status[lid], FERRY_MSG_READY);
    return ea.upload_id[lid];
  }
  bool pump_bob(ferry_client_t* c, const std::function<bool()>& pred, int timeout_ms = 180000) {
    return pump({{c, &eb}, {alice->client(), &ea}}, pred, timeout_ms);
  }
  bool settled(uint64_t id) { return eb.dl.count(id) && eb.dl[id].final_state != 0; }
  bool retried(uint64_t id) {
    for (int st : eb.dl[id].states)
      if (st == FERRY_DOWNLOAD_RETRYING) return true;
    return false;
  }
  // A second client of bob's state directory whose downloads run at `bps` per transfer,
  // split into `segments` parts (0: the SDK's own choice).
  std::unique_ptr<SdkPeer> throttled_bob(uint64_t bps, int segments = 0) {
    SlowDownloads env(bps, segments);
    return std::make_unique<SdkPeer>(chatd.address(), dir.sub("bob"));
  }
  // The CLI's download of `id` run again, unthrottled: it says it resumed from at least
  // `held` bytes, ends DONE, and leaves the source's bytes and no partial.
  void rerun_resumes(const CliUser& cli, uint64_t id, const std::string& out, uint64_t held,
                     const std::string& src) {
    RunResult r = cli.run({"download", std::to_string(id), "--out", out, "--json"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    bool resumed = false, done = false;
    for (const JsonLine& l : json_lines(r.out)) {
      if (l.is("resume") && l.num("done") >= double(held)) resumed = true;
      if (l.is("status") && l.str("status") == "DONE") done = true;
    }
    EXPECT_TRUE(resumed) << "held " << held << ": " << r.out;
    EXPECT_TRUE(done) << r.out;
    EXPECT_EQ(sha256_file(out), sha256_file(src));
    EXPECT_FALSE(fs::exists(out + ".part"));
  }
  // The CLI (logged in as bob in its own state directory) downloading `id` to `out` in the
  // background, with the same settings (the child inherits them).
  void spawn_cli_download(Process& p, const CliUser& cli, uint64_t id, const std::string& out,
                          const std::string& log, uint64_t bps, int segments = 0) {
    SlowDownloads env(bps, segments);
    ASSERT_TRUE(p.spawn(cli.argv({"download", std::to_string(id), "--out", out, "--json"}), log));
  }
  // For failure messages: the states and fetch offsets seen so far.
  std::string describe(uint64_t id) {
    Dl& d = eb.dl[id];
    std::string s = "states:";
    for (int st : d.states) s += " " + std::to_string(st);
    s += "; fetches from:";
    for (uint64_t at : d.fetch_at) s += " " + std::to_string(at);
    return s + "; progress " + std::to_string(d.progress) + "; " + ferry_err_name(d.err) + " " +
           d.detail;
  }

  TempDir dir;
  Process chatd, resd;
  std::unique_ptr<SdkPeer> alice, bob;
  Events ea, eb;
};

TEST_F(SdkDownload, upload_then_download_gives_identical_bytes) {
  std::string src;
  uint64_t id = upload((8u << 20) + 4321, 1, src);
  ASSERT_NE(id, 0u);
  std::string out = dir.sub("bob-out.bin");
  ASSERT_EQ(ferry_download(bob->client(), id, out.c_str()), FERRY_OK);
  // Asking again for the same path only follows it; another path is refused.
  EXPECT_EQ(ferry_download(bob->client(), id, out.c_str()), FERRY_OK);
  EXPECT_EQ(ferry_download(bob->client(), id, dir.sub("elsewhere.bin").c_str()), FERRY_EINVAL);
  ASSERT_TRUE(pump_bob(bob->client(), [&] { return settled(id); }));
  Dl& d = eb.dl[id];
  ASSERT_EQ(d.final_state, FERRY_DOWNLOAD_DONE) << ferry_err_name(d.err) << ": " << d.detail;
  EXPECT_EQ(d.path, out);
  EXPECT_EQ(d.fetch_at, std::vector<uint64_t>{0});
  EXPECT_EQ(d.progress, (8u << 20) + 4321);
  EXPECT_EQ(sha256_file(out), sha256_file(src));
  EXPECT_FALSE(fs::exists(out + ".part"));
  ferry_download_info_t* list = nullptr;
  size_t n = 99;
  ASSERT_EQ(ferry_downloads_list(bob->client(), &list, &n), FERRY_OK);
  EXPECT_EQ(n, 0u);
  ferry_downloads_free(list, n);

  // The sender may download it too; and a signed URL comes with the file's hash.
  std::string out2 = dir.sub("alice-out.bin");
  ASSERT_EQ(ferry_download(alice->client(), id, out2.c_str()), FERRY_OK);
  ASSERT_TRUE(pump({{alice->client(), &ea}}, [&] { return ea.dl[id].final_state != 0; }));
  EXPECT_EQ(ea.dl[id].final_state, FERRY_DOWNLOAD_DONE) << ea.dl[id].detail;
  EXPECT_EQ(sha256_file(out2), sha256_file(src));
  uint64_t rid = 0;
  ASSERT_EQ(ferry_download_url(bob->client(), id, 60, &rid), FERRY_OK);
  ASSERT_TRUE(pump_bob(bob->client(), [&] { return eb.urls.count(rid) != 0; }));
  const ferry_event_t* u = eb.urls[rid];
  ASSERT_EQ(u->status, FERRY_OK) << u->detail;
  EXPECT_EQ(std::string(u->u.url.sha256), sha256_file(src));
  EXPECT_EQ(u->u.url.size, (8u << 20) + 4321);
  EXPECT_EQ(std::string(u->u.url.url).rfind("http://127.0.0.1:", 0), 0u);
}

TEST_F(SdkDownload, resd_killed_mid_download_resumes_from_a_nonzero_offset) {
  const uint64_t size = 48u << 20;
  std::string src;
  uint64_t id = upload(size, 2, src);
  ASSERT_NE(id, 0u);
  int http_port = resd.port();
  std::unique_ptr<SdkPeer> slow = throttled_bob(12u << 20);  // about 4 s for the whole file
  std::string out = dir.sub("resumed.bin");
  ASSERT_EQ(ferry_download(slow->client(), id, out.c_str()), FERRY_OK);
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return eb.dl[id].progress >= size / 4; }));
  resd.kill9();
  // The SDK notices and retries (from the bytes on disk) until resd is back.
  ASSERT_TRUE(pump_bob(
      slow->client(),
      [&] { return retried(id); },
      60000))
      << describe(id);
  EXPECT_GE(file_size(out + ".part"), size / 4);
  EXPECT_LT(file_size(out + ".part"), size) << "the kill did not land mid-download";
  EXPECT_FALSE(fs::exists(out));
  ASSERT_TRUE(start_resd(http_port));
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return settled(id); }));
  Dl& d = eb.dl[id];
  ASSERT_EQ(d.final_state, FERRY_DOWNLOAD_DONE) << ferry_err_name(d.err) << ": " << d.detail;
  ASSERT_GE(d.fetch_at.size(), 2u);
  EXPECT_EQ(d.fetch_at.front(), 0u);
  EXPECT_GE(d.fetch_at.back(), size / 4) << "the last fetch did not resume";
  EXPECT_EQ(sha256_file(out), sha256_file(src));
  EXPECT_FALSE(fs::exists(out + ".part"));
}

TEST_F(SdkDownload, cli_killed_mid_download_then_rerun_resumes) {
  const uint64_t size = 32u << 20;
  std::string src;
  uint64_t id = upload(size, 3, src);
  ASSERT_NE(id, 0u);
  CliUser cli{chatd.address(), dir.sub("bob-cli")};
  ASSERT_EQ(cli.run({"login", "bob", "bob-password"}).status, 0);
  std::string out = dir.sub("cli-out.bin");
  std::string log = dir.sub("cli-1.log");
  Process first;
  // One transfer (segments 1): the partial is then a prefix, and its size is what the rerun
  // must resume from. Left to itself the SDK may split even on loopback (a loaded machine's
  // first answer can take long enough to look like a long path), and a split download's
  // record lags its bytes by up to 250 ms: the split case has its own test below.
  spawn_cli_download(first, cli, id, out, log, 8u << 20, 1);  // about 4 s for the whole file
  ASSERT_FALSE(HasFatalFailure());
  // Kill it once a quarter is on disk, as its own progress lines say.
  ASSERT_TRUE(wait_for([&] {
    for (const JsonLine& l : json_lines(read_text(log)))
      if (l.is("progress") && l.num("done") >= double(size / 4)) return true;
    return !first.running();
  }));
  ASSERT_TRUE(first.running()) << read_text(log);
  first.kill9();
  uint64_t had = file_size(out + ".part");
  EXPECT_GE(had, size / 4);
  EXPECT_LT(had, size) << "the kill did not land mid-download";
  EXPECT_FALSE(fs::exists(out));
  // Run again (unthrottled): it resumes from the partial file and verifies the whole.
  rerun_resumes(cli, id, out, had, src);
}

TEST_F(SdkDownload, message_still_uploading_is_not_ready_and_nothing_is_written) {
  // With resd gone the upload cannot progress: chatd stores the message as uploading (it
  // keeps the last announced addresses) and it stays so.
  resd.kill9();
  std::string src = dir.sub("stuck.bin");
  write_noise_file(src, 1u << 20, 4);
  char lid[FERRY_LOCAL_ID_SIZE];
  ASSERT_EQ(ferry_send_file(alice->client(), "bob", src.c_str(), FERRY_KIND_FILE, nullptr, lid),
            FERRY_OK);
  ASSERT_TRUE(
      pump({{alice->client(), &ea}}, [&] { return ea.upload_status[lid] == FERRY_MSG_UPLOADING; }));
  uint64_t id = ea.upload_id[lid];
  ASSERT_NE(id, 0u);
  std::string out = dir.sub("never.bin");
  ASSERT_EQ(ferry_download(bob->client(), id, out.c_str()), FERRY_OK);
  ASSERT_TRUE(pump_bob(bob->client(), [&] { return settled(id); }));
  EXPECT_EQ(eb.dl[id].final_state, FERRY_DOWNLOAD_FAILED);
  EXPECT_EQ(eb.dl[id].err, FERRY_ENOTREADY) << eb.dl[id].detail;
  EXPECT_NE(eb.dl[id].detail.find("upload"), std::string::npos) << eb.dl[id].detail;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(wait_for([&] { return !fs::exists(out + ".part"); }, 10000));
  uint64_t rid = 0;
  ASSERT_EQ(ferry_download_url(bob->client(), id, 0, &rid), FERRY_OK);
  ASSERT_TRUE(pump_bob(bob->client(), [&] { return eb.urls.count(rid) != 0; }));
  EXPECT_EQ(eb.urls[rid]->status, FERRY_ENOTREADY);
  // The CLI says so and exits 1.
  CliUser cli{chatd.address(), dir.sub("bob-cli")};
  ASSERT_EQ(cli.run({"login", "bob", "bob-password"}).status, 0);
  RunResult r = cli.run({"download", std::to_string(id), "--out", out});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not ready"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  ASSERT_TRUE(start_resd(0));  // so TearDown stops a running one
}

TEST_F(SdkDownload, pause_keeps_resume_continues_cancel_removes_the_partial) {
  const uint64_t size = 32u << 20;
  std::string src;
  uint64_t id = upload(size, 5, src);
  ASSERT_NE(id, 0u);
  std::unique_ptr<SdkPeer> slow = throttled_bob(8u << 20);
  std::string out = dir.sub("cancelled.bin");
  ASSERT_EQ(ferry_download(slow->client(), id, out.c_str()), FERRY_OK);
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return eb.dl[id].progress >= size / 8; }));
  ASSERT_EQ(ferry_download_pause(slow->client(), id), FERRY_OK);
  ASSERT_TRUE(pump_bob(
      slow->client(),
      [&] { return !eb.dl[id].states.empty() && eb.dl[id].states.back() == FERRY_DOWNLOAD_PAUSED; },
      60000))
      << describe(id);
  ferry_download_info_t* list = nullptr;
  size_t n = 0;
  ASSERT_EQ(ferry_downloads_list(slow->client(), &list, &n), FERRY_OK);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(list[0].message_id, id);
  EXPECT_EQ(list[0].paused, 1);
  EXPECT_EQ(list[0].size, size);
  EXPECT_EQ(std::string(list[0].path), out);
  ferry_downloads_free(list, n);
  EXPECT_GE(file_size(out + ".part"), size / 8);
  ASSERT_EQ(ferry_download_resume(slow->client(), id), FERRY_OK);
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return eb.dl[id].fetch_at.size() >= 2; }));
  EXPECT_GE(eb.dl[id].fetch_at.back(), size / 8);
  ASSERT_EQ(ferry_download_cancel(slow->client(), id), FERRY_OK);
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return settled(id); }));
  EXPECT_EQ(eb.dl[id].final_state, FERRY_DOWNLOAD_CANCELLED);
  EXPECT_TRUE(wait_for([&] { return !fs::exists(out + ".part"); }, 10000));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(ferry_download_cancel(slow->client(), id), FERRY_ENOTFOUND);
}

TEST_F(SdkDownload, split_download_gives_identical_bytes_and_leaves_no_record) {
  const uint64_t size = (24u << 20) + 777;
  std::string src;
  uint64_t id = upload(size, 6, src);
  ASSERT_NE(id, 0u);
  std::unique_ptr<SdkPeer> split;
  {
    Segments s(4);
    split = std::make_unique<SdkPeer>(chatd.address(), dir.sub("bob"));
  }
  std::string out = dir.sub("split.bin");
  ASSERT_EQ(ferry_download(split->client(), id, out.c_str()), FERRY_OK);
  ASSERT_TRUE(pump_bob(split->client(), [&] { return settled(id); }));
  Dl& d = eb.dl[id];
  ASSERT_EQ(d.final_state, FERRY_DOWNLOAD_DONE) << describe(id);
  EXPECT_EQ(d.progress, size);
  EXPECT_EQ(sha256_file(out), sha256_file(src));
  EXPECT_FALSE(fs::exists(out + ".part"));
  EXPECT_FALSE(fs::exists(out + ".part.segs"));
  EXPECT_FALSE(fs::exists(out + ".part.segs.tmp"));
}

TEST_F(SdkDownload, cli_killed_mid_split_download_then_rerun_resumes_every_segment) {
  const uint64_t size = 32u << 20;
  std::string src;
  uint64_t id = upload(size, 7, src);
  ASSERT_NE(id, 0u);
  CliUser cli{chatd.address(), dir.sub("bob-cli")};
  ASSERT_EQ(cli.run({"login", "bob", "bob-password"}).status, 0);
  std::string out = dir.sub("cli-split.bin");
  std::string log = dir.sub("cli-split-1.log");
  Process first;
  // Four segments at 2 MiB/s each (the cap is per transfer): about 4 s for the file.
  spawn_cli_download(first, cli, id, out, log, 2u << 20, 4);
  ASSERT_FALSE(HasFatalFailure());
  // Kill it once a quarter is held and the record says at least two segments have bytes.
  ASSERT_TRUE(wait_for([&] {
    Held h = held_in(read_segments(out + ".part.segs"));
    return (h.bytes >= size / 4 && h.parts_with_bytes >= 2) || !first.running();
  })) << read_text(log);
  ASSERT_TRUE(first.running()) << read_text(log);
  first.kill9();
  std::vector<SegmentLine> rec = read_segments(out + ".part.segs");
  ASSERT_GE(rec.size(), 4u);
  for (const SegmentLine& l : rec) EXPECT_LE(l.done, l.end - l.start);
  uint64_t held = held_in(rec).bytes;
  EXPECT_LT(held, size) << "the kill did not land mid-download";
  EXPECT_FALSE(fs::exists(out));
  // Run again, unthrottled and without the hook: the record, not the round trip, decides.
  rerun_resumes(cli, id, out, held, src);
  EXPECT_FALSE(fs::exists(out + ".part.segs"));
}

TEST_F(SdkDownload, resd_killed_mid_split_download_resumes_every_segment_then_cancel_cleans_up) {
  const uint64_t size = 48u << 20;
  std::string src;
  uint64_t id = upload(size, 9, src);
  ASSERT_NE(id, 0u);
  int http_port = resd.port();
  // 3 MiB/s per transfer, four of them: about 4 s for the whole file.
  std::unique_ptr<SdkPeer> slow = throttled_bob(3u << 20, 4);
  std::string out = dir.sub("split-resumed.bin");
  ASSERT_EQ(ferry_download(slow->client(), id, out.c_str()), FERRY_OK);
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return eb.dl[id].progress >= size / 4; }));
  resd.kill9();
  ASSERT_TRUE(pump_bob(
      slow->client(),
      [&] { return retried(id); },
      60000))
      << describe(id);
  // Every segment's bytes are in the record; the partial is the file's size (holes).
  std::vector<SegmentLine> rec = read_segments(out + ".part.segs");
  ASSERT_GE(rec.size(), 4u);
  Held h = held_in(rec);
  uint64_t held = h.bytes;
  EXPECT_GE(held, size / 4);
  EXPECT_LT(held, size) << "the kill did not land mid-download";
  EXPECT_GE(h.parts_with_bytes, 2);
  ASSERT_TRUE(start_resd(http_port));
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return settled(id); }));
  Dl& d = eb.dl[id];
  ASSERT_EQ(d.final_state, FERRY_DOWNLOAD_DONE) << describe(id);
  ASSERT_GE(d.fetch_at.size(), 2u);
  EXPECT_GE(d.fetch_at.back(), held) << "the last fetch did not resume every segment";
  EXPECT_EQ(sha256_file(out), sha256_file(src));
  EXPECT_FALSE(fs::exists(out + ".part"));
  EXPECT_FALSE(fs::exists(out + ".part.segs"));

  // Cancelling a split download removes its record with the partial.
  std::string out2 = dir.sub("split-cancelled.bin");
  ASSERT_EQ(ferry_download(slow->client(), id, out2.c_str()), FERRY_OK);
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return fs::exists(out2 + ".part.segs"); }));
  ASSERT_EQ(ferry_download_cancel(slow->client(), id), FERRY_OK);
  ASSERT_TRUE(pump_bob(slow->client(), [&] { return eb.dl[id].final_state == FERRY_DOWNLOAD_CANCELLED; }));
  EXPECT_TRUE(wait_for([&] { return !fs::exists(out2 + ".part"); }, 10000));
  EXPECT_FALSE(fs::exists(out2 + ".part.segs"));
  EXPECT_FALSE(fs::exists(out2));
}

TEST_F(SdkDownload, a_damaged_or_orphaned_record_starts_the_file_over) {
  const uint64_t size = 12u << 20;
  std::string src;
  uint64_t id = upload(size, 8, src);
  ASSERT_NE(id, 0u);
  CliUser cli{chatd.address(), dir.sub("bob-cli")};
  ASSERT_EQ(cli.run({"login", "bob", "bob-password"}).status, 0);
  struct Case {
    const char* name;
    std::string partial;  // what the partial holds ("" = no partial file)
    std::string record;
  };
  const std::string full(size, 'x');  // as long as the file, and all wrong
  const std::vector<Case> cases = {
      {"garbage record", full, "not a record\n"},
      {"record for another size", full, "ferry-segments 1 5\n0 5 5\n"},
      {"record with a gap after a good line", full,
       "ferry-segments 1 " + std::to_string(size) + "\n0 100 100\n200 " +
           std::to_string(size) + " 0\n"},
      {"record claiming bytes of a missing partial", "",
       "ferry-segments 1 " + std::to_string(size) + "\n0 " + std::to_string(size) + " " +
           std::to_string(size) + "\n"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string out = dir.sub("damaged-" + std::to_string(n++) + ".bin");
    if (!c.partial.empty()) std::ofstream(out + ".part", std::ios::binary) << c.partial;
    std::ofstream(out + ".part.segs", std::ios::binary) << c.record;
    RunResult r = cli.run({"download", std::to_string(id), "--out", out, "--json"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(sha256_file(out), sha256_file(src));
    EXPECT_FALSE(fs::exists(out + ".part"));
    EXPECT_FALSE(fs::exists(out + ".part.segs"));
  }
}

}  // namespace
}  // namespace ferry::test
