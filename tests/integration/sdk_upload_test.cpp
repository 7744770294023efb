// Proves the SDK's media upload path end to end against the real servers: ferry_send_file()
// from alice to bob through ferry-chatd and ferry-resd on loopback. Bob sees the message at
// once (with the thumbnail for an image), both sides get progress events and READY, and the
// file resd stores has the right SHA-256. A second test pauses at half the file, kills resd
// with SIGKILL, restarts it on the same port and resumes: the upload completes with the right
// hash and the SDK re-sent at most about one window of chunks. A third checks that chunks
// the hash pass has already summed go out with sendfile.
//
// How: the servers run as child processes (tests/support/process.h); the two clients use only
// ferry.h, except the re-send check, which reads the SDK's own upload counters through the
// client struct (a test hook; no exported symbol).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ferry.h"
#include "sdk/api/client.h"
#include "tests/support/cli_user.h"
#include "tests/support/process.h"
#include "tests/support/sdk_peer.h"

namespace ferry::test {
namespace {

void write_noise(const std::string& path, uint64_t size, uint64_t seed) {
  std::ofstream f(path, std::ios::binary);
  std::vector<uint64_t> block(1 << 17);
  uint64_t x = seed | 1;
  for (uint64_t done = 0; done < size;) {
    for (uint64_t& w : block) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      w = x;
    }
    uint64_t n = std::min<uint64_t>(size - done, block.size() * 8);
    f.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    done += n;
  }
}

// What one client saw, by local id (own uploads) or message id (received).
struct Seen {
  std::vector<int> statuses;  // MESSAGE_STATUS values for own uploads, in order
  std::vector<uint64_t> progress;  // own progress `done` values
  int final_status = 0;
  int final_err = 0;
  uint64_t message_id = 0;
  std::string sha256;
};
struct Watcher {
  std::map<std::string, Seen> own;  // by local id
  std::map<uint64_t, ferry_media_t> received_media;  // by message id (pointers not kept)
  std::map<uint64_t, std::string> received_thumb;
  std::map<uint64_t, int> received_status;
  std::map<uint64_t, uint64_t> peer_progress;  // outgoing = 0

  void handle(const ferry_event_t* ev) {
    if (ev->type == FERRY_EVENT_UPLOAD_PROGRESS) {
      if (ev->u.progress.outgoing) {
        own[ev->u.progress.local_id].progress.push_back(ev->u.progress.done);
      } else {
        peer_progress[ev->u.progress.message_id] = ev->u.progress.done;
      }
    } else if (ev->type == FERRY_EVENT_MESSAGE && ev->u.message.media) {
      const ferry_media_t* m = ev->u.message.media;
      received_media[ev->u.message.id] = *m;
      received_thumb[ev->u.message.id] =
          m->thumb ? std::string(reinterpret_cast<const char*>(m->thumb), m->thumb_len) : "";
      received_status[ev->u.message.id] = ev->u.message.status;
    } else if (ev->type == FERRY_EVENT_MESSAGE_STATUS) {
      const ferry_message_t& m = ev->u.message;
      auto it = own.find(m.local_id);
      if (it != own.end()) {
        it->second.statuses.push_back(m.status);
        it->second.final_status = m.status;
        it->second.final_err = ev->status;
        if (m.id) it->second.message_id = m.id;
        if (m.media && m.media->sha256) it->second.sha256 = m.media->sha256;
      } else {
        received_status[m.id] = m.status;
      }
    }
  }
};

bool pump_until(ferry_client_t* a, Watcher& wa, ferry_client_t* b, Watcher& wb,
                const std::function<bool()>& pred, int timeout_ms = 120000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    ferry_event_t* ev = nullptr;
    for (auto [c, w] : {std::pair{a, &wa}, std::pair{b, &wb}}) {
      while (c && ferry_poll_event(c, &ev, 0) == FERRY_OK) {
        w->handle(ev);
        ferry_event_free(ev);
      }
    }
    ferry_poll_event(a, &ev, 5) == FERRY_OK ? (wa.handle(ev), ferry_event_free(ev)) : void();
  }
  return true;
}

class SdkUpload : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                             dir.sub("chat"), "--secret-file", dir.sub("secret.key"),
                             "--kdf-iterations", "1000"}));
    ASSERT_TRUE(start_resd(0));
    alice = std::make_unique<SdkPeer>(chatd.address(), dir.sub("alice"));
    bob = std::make_unique<SdkPeer>(chatd.address(), dir.sub("bob"));
    ASSERT_EQ(alice->register_user("alice", "alice-password"), FERRY_OK);
    ASSERT_EQ(bob->register_user("bob", "bob-password"), FERRY_OK);
  }
  bool start_resd(int port) {
    bool ok = resd.start({bin_path("ferry-resd"), "--listen",
                          "127.0.0.1:" + std::to_string(port), "--data", dir.sub("res"),
                          "--secret-file", dir.sub("secret.key"), "--chat", chatd.address()});
    return ok;
  }
  std::string stored(const std::string& sha) const {
    return dir.sub("res") + "/files/" + sha.substr(0, 2) + "/" + sha;
  }
  bool pump(const std::function<bool()>& pred, int timeout_ms = 120000) {
    return pump_until(alice->client(), wa, bob->client(), wb, pred, timeout_ms);
  }

  TempDir dir;
  Process chatd, resd;
  std::unique_ptr<SdkPeer> alice, bob;
  Watcher wa, wb;
};

TEST_F(SdkUpload, image_and_16mib_file_reach_bob_ready) {
  std::string image = std::string(FERRY_SOURCE_DIR) + "/fixtures/media/sample-1280x720.jpg";
  std::string big = dir.sub("big.bin");
  write_noise(big, 16u << 20, 7);
  char img_id[FERRY_LOCAL_ID_SIZE], big_id[FERRY_LOCAL_ID_SIZE];
  ASSERT_EQ(ferry_send_file(alice->client(), "bob", image.c_str(), FERRY_KIND_AUTO, nullptr,
                            img_id),
            FERRY_OK);
  ASSERT_EQ(ferry_send_file(alice->client(), "bob", big.c_str(), FERRY_KIND_AUTO, "big one",
                            big_id),
            FERRY_OK);
  wa.own[img_id];
  wa.own[big_id];
  auto ready = [&](const char* id) { return wa.own[id].final_status == FERRY_MSG_READY; };
  ASSERT_TRUE(pump([&] { return ready(img_id) && ready(big_id); }))
      << "image " << wa.own[img_id].final_status << " big " << wa.own[big_id].final_status
      << " err " << wa.own[big_id].final_err;
  for (const char* id : {img_id, big_id}) {
    const Seen& s = wa.own[id];
    ASSERT_GE(s.statuses.size(), 3u);
    EXPECT_EQ(s.statuses.front(), FERRY_MSG_PENDING);
    EXPECT_EQ(s.statuses[1], FERRY_MSG_UPLOADING);
    ASSERT_FALSE(s.progress.empty());
    EXPECT_TRUE(std::is_sorted(s.progress.begin(), s.progress.end()));
    EXPECT_EQ(sha256_file(stored(s.sha256)), s.sha256);
  }
  EXPECT_EQ(wa.own[big_id].sha256, sha256_file(big));
  EXPECT_EQ(wa.own[big_id].progress.back(), 16u << 20);
  // Bob: both messages, the image with its JPEG thumbnail, then READY for both.
  uint64_t img_msg = wa.own[img_id].message_id, big_msg = wa.own[big_id].message_id;
  ASSERT_TRUE(pump([&] {
    return wb.received_status[img_msg] == FERRY_MSG_READY &&
           wb.received_status[big_msg] == FERRY_MSG_READY;
  }));
  ASSERT_TRUE(wb.received_media.count(img_msg));
  EXPECT_EQ(wb.received_media[img_msg].kind, FERRY_KIND_IMAGE);
  EXPECT_EQ(wb.received_media[img_msg].width, 1280u);
  EXPECT_EQ(wb.received_thumb[img_msg].substr(0, 3), "\xFF\xD8\xFF");
  EXPECT_EQ(wb.received_media[big_msg].kind, FERRY_KIND_FILE);
  EXPECT_EQ(wb.received_media[big_msg].size, 16u << 20);
  EXPECT_TRUE(wb.received_thumb[big_msg].empty());
  EXPECT_EQ(wb.peer_progress[big_msg], 16u << 20);
  // Nothing pending any more.
  ferry_upload_info_t* list = nullptr;
  size_t n = 99;
  ASSERT_EQ(ferry_uploads_list(alice->client(), &list, &n), FERRY_OK);
  EXPECT_EQ(n, 0u);
  ferry_uploads_free(list, n);
}

TEST_F(SdkUpload, resd_killed_at_half_resumes_and_resends_about_one_window) {
  const uint64_t size = 64u << 20;
  std::string big = dir.sub("big.bin");
  write_noise(big, size, 11);
  char id[FERRY_LOCAL_ID_SIZE];
  ASSERT_EQ(ferry_send_file(alice->client(), "bob", big.c_str(), FERRY_KIND_FILE, nullptr, id),
            FERRY_OK);
  Seen& s = wa.own[id];
  // Pause as soon as half the file is durable, so the kill lands mid-upload for sure.
  ASSERT_TRUE(pump([&] { return !s.progress.empty() && s.progress.back() >= size / 2; }));
  ASSERT_EQ(ferry_upload_pause(alice->client(), id), FERRY_OK);
  int port = resd.port();
  resd.kill9();
  ferry_upload_info_t* list = nullptr;
  size_t n = 0;
  ASSERT_EQ(ferry_uploads_list(alice->client(), &list, &n), FERRY_OK);
  ASSERT_EQ(n, 1u);
  EXPECT_STREQ(list[0].local_id, id);
  EXPECT_EQ(list[0].size, size);
  EXPECT_GE(list[0].done, size / 2);
  ferry_uploads_free(list, n);
  ASSERT_TRUE(start_resd(port));
  ASSERT_EQ(ferry_upload_resume(alice->client(), id), FERRY_OK);
  ASSERT_TRUE(pump([&] { return s.final_status != 0 && s.final_status != FERRY_MSG_UPLOADING &&
                                s.final_status != FERRY_MSG_PENDING; }));
  ASSERT_EQ(s.final_status, FERRY_MSG_READY) << ferry_err_name(s.final_err);
  EXPECT_EQ(sha256_file(stored(s.sha256)), sha256_file(big));
  // Re-sent bytes: everything written beyond the file's size. The window holds at most
  // 32 MiB in flight, plus chunks being read; 1 MiB chunks for a 64 MiB file.
  const sdk::UploadIoStats* st = alice->client()->driver->upload_stats();
  ASSERT_NE(st, nullptr);
  uint64_t written = st->chunk_bytes_written.load();
  EXPECT_GE(written, size);
  EXPECT_LE(written - size, (32u << 20) + (16u << 20)) << "written " << written;
  EXPECT_EQ(ferry_upload_cancel(alice->client(), id), FERRY_ENOTFOUND);
}

TEST_F(SdkUpload, chunks_the_hash_pass_has_summed_go_out_with_sendfile) {
  // Under 64 MiB the file is hashed (and every 1 MiB chunk summed) before it is announced,
  // so every chunk may go out with sendfile, its bytes never copied into the SDK.
  const uint64_t size = (40u << 20) + 12345;
  std::string path = dir.sub("sendfile.bin");
  write_noise(path, size, 21);
  char id[FERRY_LOCAL_ID_SIZE];
  ASSERT_EQ(ferry_send_file(alice->client(), "bob", path.c_str(), FERRY_KIND_FILE, nullptr, id),
            FERRY_OK);
  Seen& s = wa.own[id];
  ASSERT_TRUE(pump([&] { return s.final_status != 0 && s.final_status != FERRY_MSG_UPLOADING &&
                                s.final_status != FERRY_MSG_PENDING; }));
  ASSERT_EQ(s.final_status, FERRY_MSG_READY) << ferry_err_name(s.final_err);
  // resd checked every chunk's sum and the whole file's SHA-256 before READY.
  EXPECT_EQ(sha256_file(stored(s.sha256)), sha256_file(path));
  const sdk::UploadIoStats* st = alice->client()->driver->upload_stats();
  ASSERT_NE(st, nullptr);
  EXPECT_GE(st->chunk_bytes_written.load(), size);
  // All of it, unless a chunk had to be sent again (a re-send reads the file).
  EXPECT_GE(st->file_bytes_sent.load(), size / 2) << "sent " << st->chunk_bytes_written.load();
  EXPECT_LE(st->file_bytes_sent.load(), st->chunk_bytes_written.load());
}

}  // namespace
}  // namespace ferry::test
