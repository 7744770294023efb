// What: media uploads end to end with real processes on 127.0.0.1 — ferry-chatd, ferry-resd
// and the `ferry` CLI (one test drives the SDK directly). A 64 MiB upload survives kill -9 of
// the resource server near 50% and kill -9 of the uploading CLI near 50% (run again, it says
// how much the server held and re-sends only the rest); a cut connection and a chat-server
// restart resume by themselves; six concurrent uploads of different sizes complete with the
// right hashes; a hostile display name is shown verbatim and stored only under resd's files/;
// sending the same file twice uploads it once; cancel reaches the receiver and frees resd's
// space; pause/resume works across CLI processes; a source file changed mid-upload fails with
// a clear reason and leaves nothing under files/.
// How: Cluster (upload_e2e_support.h) starts both servers in a TempDir with ephemeral ports;
// the SDK reaches resd through an UploadProxy (resd --advertise) that can throttle, hold or
// cut the stream, so "near 50%" is seen in the sender's --json progress lines before the rest
// arrives. Conditions are polled with generous deadlines; no duration is ever asserted.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/upload_e2e_support.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMiB = 1 << 20;

// A `ferry send-file ... --json` running in the background, its output in a log file.
struct Sender {
  Process p;
  std::string log;
  Sender(const CliUser& user, const std::string& log_path, std::vector<std::string> args)
      : log(log_path) {
    args.insert(args.begin(), "send-file");
    args.push_back("--json");
    EXPECT_TRUE(p.spawn(user.argv(args), log));
  }
  std::vector<JsonLine> lines() const { return json_lines(read_text(log)); }
  // The largest `done` of its progress lines (0 before the first).
  uint64_t done() const {
    double best = 0;
    for (const JsonLine& l : lines())
      if (l.is("progress")) best = std::max(best, l.num("done"));
    return uint64_t(best);
  }
  std::string local_id() const {
    for (const JsonLine& l : lines())
      if (!l.str("id").empty()) return l.str("id");
    return "";
  }
  bool saw_status(const std::string& status) const { return has_status(lines(), status); }
  static bool has_status(const std::vector<JsonLine>& ls, const std::string& status) {
    for (const JsonLine& l : ls)
      if (l.is("status") && l.str("status") == status) return true;
    return false;
  }
};

std::string make_file(const Cluster& c, const std::string& name, uint64_t size, uint64_t seed) {
  std::string path = c.dir.sub(name);
  write_noise_file(path, size, seed);
  return path;
}

// The file resd stored for `sha` exists and has exactly that hash.
void expect_stored(const Cluster& c, const std::string& sha) {
  std::string stored = c.stored_path(sha);
  ASSERT_TRUE(fs::exists(stored)) << stored
                                  << " missing; files: " << files_under(c.files_dir()).size();
  EXPECT_EQ(sha256_file(stored), sha);
}

// bob's listen until `n` media messages are READY; returns its JSON lines.
std::vector<JsonLine> bob_until_ready(const Cluster& c, int n) {
  RunResult r = c.bob.run(
      {"listen", "--json", "--count", std::to_string(n), "--until-ready", "--timeout", "120"});
  EXPECT_EQ(r.status, 0) << r.err;
  return json_lines(r.out);
}

}  // namespace

TEST(upload_e2e, resd_kill9_near_half_then_restart_completes) {
  Cluster c;
  ASSERT_TRUE(c.start());
  uint64_t size = 64 * kMiB;
  std::string file = make_file(c, "big.bin", size, 1);
  std::string sha = sha256_file(file);
  c.proxy.set_rate(32 * 1000 * 1000);
  Sender s(c.alice, c.dir.sub("send.log"), {"bob", file});
  ASSERT_TRUE(wait_for([&] { return s.done() >= size / 2; })) << read_text(s.log);
  c.proxy.hold(true);
  c.resd.kill9();
  uint64_t held_seen = s.done();
  ASSERT_LT(held_seen, size) << "the upload finished before resd was killed";
  EXPECT_FALSE(files_under(c.partial_dir()).empty());
  uint64_t up_before = c.proxy.upstream_bytes();
  ASSERT_TRUE(c.start_resd());
  c.proxy.set_rate(0);
  c.proxy.hold(false);
  ASSERT_EQ(s.p.wait(180000), 0) << read_text(s.log);
  EXPECT_TRUE(s.saw_status("READY")) << read_text(s.log);
  expect_stored(c, sha);
  // Only what resd did not hold durably went again (plus framing and a chunk or two).
  uint64_t resent = c.proxy.upstream_bytes() - up_before;
  std::printf("[ info     ] resd killed with %llu of %llu bytes acked; %llu sent after restart\n",
              (unsigned long long)held_seen, (unsigned long long)size, (unsigned long long)resent);
  EXPECT_LE(resent, size - held_seen + 4 * kMiB);
  auto bob = bob_until_ready(c, 1);
  bool seen = false;
  for (const JsonLine& l : bob)
    if (l.is("message")) seen = seen || l.str("sha256") == sha;
  EXPECT_TRUE(seen);
}

TEST(upload_e2e, cli_kill9_near_half_then_rerun_resumes) {
  Cluster c;
  ASSERT_TRUE(c.start());
  uint64_t size = 64 * kMiB;
  std::string file = make_file(c, "big.bin", size, 2);
  std::string sha = sha256_file(file);
  c.proxy.set_rate(32 * 1000 * 1000);
  {
    Sender s(c.alice, c.dir.sub("send1.log"), {"bob", file});
    ASSERT_TRUE(wait_for([&] { return s.done() >= size / 2; })) << read_text(s.log);
    s.p.kill9();
    ASSERT_LT(s.done(), size) << "the upload finished before the CLI was killed";
  }
  RunResult list = c.alice.run({"uploads", "--json"});
  ASSERT_EQ(list.status, 0) << list.err;
  ASSERT_EQ(json_lines(list.out).size(), 1u) << list.out;
  c.proxy.set_rate(0);
  // What the killed CLI had already sent (megabytes, in the relay's socket buffers while it
  // was throttled) still goes on to resd; it is not the rerun's, so count from after it.
  ASSERT_TRUE(wait_for([&] { return c.proxy.connections_open() == 0; }));
  uint64_t up_before = c.proxy.upstream_bytes();
  RunResult r = c.alice.run({"send-file", "bob", file, "--json"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  auto ls = json_lines(r.out);
  ASSERT_FALSE(ls.empty());
  ASSERT_TRUE(ls[0].is("resume")) << r.out;
  double held = ls[0].num("done");
  EXPECT_GT(held, 0) << r.out;
  EXPECT_EQ(ls[0].num("total"), double(size));
  EXPECT_TRUE(Sender::has_status(ls, "READY")) << r.out;
  uint64_t resent = c.proxy.upstream_bytes() - up_before;
  std::printf("[ info     ] rerun: the server held %.0f of %llu bytes; %llu sent by the rerun\n",
              held, (unsigned long long)size, (unsigned long long)resent);
  EXPECT_LE(resent, size - uint64_t(held) + 4 * kMiB);
  expect_stored(c, sha);
  list = c.alice.run({"uploads", "--json"});
  EXPECT_TRUE(json_lines(list.out).empty()) << list.out;
}

TEST(upload_e2e, cut_connection_and_chatd_restart_resume_by_themselves) {
  Cluster c;
  ASSERT_TRUE(c.start());
  uint64_t size = 48 * kMiB;
  std::string file = make_file(c, "cut.bin", size, 3);
  std::string sha = sha256_file(file);
  c.proxy.set_rate(24 * 1000 * 1000);
  Sender s(c.alice, c.dir.sub("send.log"), {"bob", file});
  ASSERT_TRUE(wait_for([&] { return s.done() >= size / 4; })) << read_text(s.log);
  int conns = c.proxy.connections_accepted();
  c.proxy.cut();
  ASSERT_TRUE(wait_for([&] { return c.proxy.connections_accepted() > conns; }));
  ASSERT_TRUE(wait_for([&] { return s.done() >= size / 2; })) << read_text(s.log);
  // Held, the upload cannot finish while chatd is down: READY must come through the
  // restarted chatd (resd's upload_done outbox, the SDK's reconnect).
  c.proxy.hold(true);
  c.chatd.kill9();
  ASSERT_LT(s.done(), size);
  ASSERT_TRUE(c.start_chatd());
  c.proxy.set_rate(0);
  c.proxy.hold(false);
  ASSERT_EQ(s.p.wait(180000), 0) << read_text(s.log);
  EXPECT_TRUE(s.saw_status("READY"));
  expect_stored(c, sha);
  auto bob = bob_until_ready(c, 1);
  EXPECT_FALSE(bob.empty());
}

TEST(upload_e2e, six_concurrent_uploads_of_different_sizes) {
  Cluster c;
  ASSERT_TRUE(c.start());
  const uint64_t sizes[] = {0, 1, kMiB + 1, 3 * kMiB, 9 * kMiB, 17 * kMiB};
  std::vector<std::string> shas;
  std::vector<std::unique_ptr<Sender>> senders;
  // Separate state directories: each CLI process is its own client and connection.
  for (size_t i = 0; i < std::size(sizes); i++) {
    CliUser a{c.alice.server, c.dir.sub("alice" + std::to_string(i))};
    ASSERT_EQ(a.run({"login", "alice", "alice-password"}).status, 0);
    std::string file = make_file(c, "f" + std::to_string(i), sizes[i], 10 + i);
    shas.push_back(sha256_file(file));
    senders.push_back(std::make_unique<Sender>(a, c.dir.sub("send" + std::to_string(i) + ".log"),
                                               std::vector<std::string>{"bob", file}));
  }
  for (auto& s : senders) {
    EXPECT_EQ(s->p.wait(180000), 0) << read_text(s->log);
    EXPECT_TRUE(s->saw_status("READY")) << read_text(s->log);
  }
  for (const std::string& sha : shas) expect_stored(c, sha);
  auto bob = bob_until_ready(c, int(std::size(sizes)));
  std::set<std::string> got;
  for (const JsonLine& l : bob)
    if (l.is("message")) got.insert(l.str("sha256"));
  for (const std::string& sha : shas) EXPECT_TRUE(got.count(sha)) << sha;
}

TEST(upload_e2e, hostile_name_shown_verbatim_stored_under_files_only) {
  Cluster c;
  ASSERT_TRUE(c.start());
  std::string file = make_file(c, "plain.bin", 2 * kMiB + 7, 4);
  std::string sha = sha256_file(file);
  const std::string evil = "../../etc/passwd";
  RunResult r = c.alice.run({"send-file", "bob", file, "--name", evil, "--json"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  auto bob = bob_until_ready(c, 1);
  bool named = false;
  for (const JsonLine& l : bob)
    if (l.is("message")) named = l.str("name") == evil && l.str("sha256") == sha;
  EXPECT_TRUE(named);
  expect_stored(c, sha);
  // Nothing named after the display name anywhere in the test's directory tree.
  for (const std::string& f : files_under(c.dir.path()))
    EXPECT_EQ(f.find("passwd"), std::string::npos) << f;
  // resd wrote only inside its data directory, in its own layout.
  for (const std::string& f : files_under(c.res_dir())) {
    bool known = f.rfind("files/", 0) == 0 || f.rfind("done/", 0) == 0 ||
                 f.rfind("partial/", 0) == 0 || f.rfind("notify/", 0) == 0 ||
                 f.find('/') == std::string::npos;
    EXPECT_TRUE(known) << f;
  }
}

namespace {

// Sends a 6 MiB file from alice to bob, then the same file from `again` to `to`; checks that
// both sends end READY with one stored copy and returns the bytes the second one uploaded.
uint64_t send_twice(Cluster& c, CliUser& again, const std::string& to, const std::string& name,
                    uint64_t seed) {
  std::string file = make_file(c, name, 6 * kMiB, seed);
  RunResult r = c.alice.run({"send-file", "bob", file, "--json"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  uint64_t up_before = c.proxy.upstream_bytes();
  r = again.run({"send-file", to, file, "--json"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(Sender::has_status(json_lines(r.out), "READY")) << r.out;
  EXPECT_EQ(files_under(c.files_dir()).size(), 1u);
  expect_stored(c, sha256_file(file));
  return c.proxy.upstream_bytes() - up_before;
}

}  // namespace

TEST(upload_e2e, same_file_twice_uploads_once) {
  Cluster c;
  ASSERT_TRUE(c.start());
  EXPECT_LT(send_twice(c, c.alice, "bob", "twice.bin", 5), kMiB)
      << "the second send uploaded the bytes";
  bob_until_ready(c, 2);
}

// Another user's send of content resd stores already uploads every byte (instant send is per
// sender) and keeps the one stored copy: the new data file is discarded after READY, and
// nothing is left in partial/.
TEST(upload_e2e, same_content_from_another_user_keeps_one_copy) {
  Cluster c;
  ASSERT_TRUE(c.start());
  EXPECT_GE(send_twice(c, c.bob, "alice", "shared.bin", 7), 6 * kMiB)
      << "bob's send uploads the bytes";
  EXPECT_TRUE(wait_for([&] { return files_under(c.partial_dir()).empty(); }))
      << files_under(c.partial_dir()).size() << " partial files left";
}

// A file of 64 MiB or more is sent "hash later": the second send of the same file starts
// uploading before its hash is known; bind_hash then finds the bytes stored (instant send),
// the message is READY, and resd drops the partial upload (the chat server's cancel).
TEST(upload_e2e, large_file_twice_is_instant_at_bind_and_leaves_no_partial) {
  Cluster c;
  ASSERT_TRUE(c.start());
  uint64_t size = 64 * kMiB;
  std::string file = make_file(c, "twice-big.bin", size, 6);
  std::string sha = sha256_file(file);
  for (int i = 0; i < 2; i++) {
    RunResult r = c.alice.run({"send-file", "bob", file, "--json"}, 180000);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_TRUE(Sender::has_status(json_lines(r.out), "READY")) << r.out;
  }
  EXPECT_EQ(files_under(c.files_dir()).size(), 1u);
  expect_stored(c, sha);
  EXPECT_TRUE(wait_for([&] { return files_under(c.partial_dir()).empty(); }))
      << files_under(c.partial_dir()).size() << " partial files left";
  auto bob = bob_until_ready(c, 2);
  int with_hash = 0;
  for (const JsonLine& l : bob)
    if (l.is("message") && l.str("sha256") == sha) with_hash++;
  EXPECT_EQ(with_hash, 2) << "both messages carry the bound hash once READY";
}

TEST(upload_e2e, cancel_reaches_receiver_and_frees_resd_space) {
  Cluster c;
  ASSERT_TRUE(c.start());
  uint64_t size = 32 * kMiB;
  std::string file = make_file(c, "cancel.bin", size, 6);
  Process bob;
  std::string bob_log = c.dir.sub("bob.log");
  ASSERT_TRUE(bob.spawn(c.bob.argv({"listen", "--json", "--timeout", "300"}), bob_log));
  c.proxy.set_rate(8 * 1000 * 1000);

  // SIGINT leaves the upload pending; `ferry upload-cancel` then cancels it.
  Sender s(c.alice, c.dir.sub("send1.log"), {"bob", file});
  ASSERT_TRUE(wait_for([&] { return s.done() >= size / 10; })) << read_text(s.log);
  c.proxy.hold(true);  // the cancel must not race the upload's end
  ::kill(s.p.pid(), SIGINT);
  EXPECT_EQ(s.p.wait(60000), 130) << read_text(s.log);
  std::string id = s.local_id();
  ASSERT_FALSE(id.empty());
  RunResult r = c.alice.run({"uploads"});
  EXPECT_NE(r.out.find(id), std::string::npos) << r.out;
  r = c.alice.run({"upload-cancel", id});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  auto cancelled = [&] { return Sender::has_status(json_lines(read_text(bob_log)), "CANCELLED"); };
  EXPECT_TRUE(wait_for(cancelled)) << read_text(bob_log);
  EXPECT_TRUE(wait_for([&] { return files_under(c.partial_dir()).empty(); }))
      << files_under(c.partial_dir()).size() << " partial files left";
  r = c.alice.run({"uploads", "--json"});
  EXPECT_TRUE(json_lines(r.out).empty()) << r.out;

  // A live cancel from a second process ends the running send-file, non-zero.
  c.proxy.hold(false);
  std::string file2 = make_file(c, "cancel2.bin", size, 7);
  Sender s2(c.alice, c.dir.sub("send2.log"), {"bob", file2});
  ASSERT_TRUE(wait_for([&] { return s2.done() >= size / 10; })) << read_text(s2.log);
  c.proxy.hold(true);
  r = c.alice.run({"upload-cancel", s2.local_id()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(s2.p.wait(60000), 1) << read_text(s2.log);
  EXPECT_TRUE(s2.saw_status("CANCELLED")) << read_text(s2.log);
  EXPECT_TRUE(wait_for([&] { return files_under(c.partial_dir()).empty(); }));
  EXPECT_TRUE(files_under(c.files_dir()).empty());
  bob.terminate();
}

TEST(upload_e2e, pause_and_resume_from_another_process) {
  Cluster c;
  ASSERT_TRUE(c.start());
  // Bigger than the SDK's in-flight cap (32 MiB), so a pause at 10% leaves chunks unsent.
  uint64_t size = 64 * kMiB;
  std::string file = make_file(c, "pause.bin", size, 8);
  c.proxy.set_rate(8 * 1000 * 1000);
  Sender s(c.alice, c.dir.sub("send.log"), {"bob", file});
  ASSERT_TRUE(wait_for([&] { return s.done() >= size / 10; })) << read_text(s.log);
  std::string id = s.local_id();
  RunResult r = c.alice.run({"upload-pause", id});
  ASSERT_EQ(r.status, 0) << r.err;
  auto paused_line = [&](bool on) {
    for (const JsonLine& l : s.lines())
      if (l.is("paused") && cJSON_IsTrue(cJSON_GetObjectItem(l.j.get(), "paused")) == on)
        return true;
    return false;
  };
  ASSERT_TRUE(wait_for([&] { return paused_line(true); })) << read_text(s.log);
  r = c.alice.run({"uploads", "--json"});
  auto ls = json_lines(r.out);
  ASSERT_EQ(ls.size(), 1u) << r.out;
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(ls[0].j.get(), "paused"))) << r.out;
  // Unthrottled but paused, it must not finish (only chunks already in flight may land).
  c.proxy.set_rate(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(s.saw_status("READY")) << read_text(s.log);
  EXPECT_LT(s.done(), size);
  r = c.alice.run({"upload-resume", id});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(wait_for([&] { return paused_line(false); })) << read_text(s.log);
  ASSERT_EQ(s.p.wait(180000), 0) << read_text(s.log);
  expect_stored(c, sha256_file(file));
}

// The source shrinks, or changes in place, after the upload started.
static void source_change_fails(bool truncate) {
  Cluster c;
  ASSERT_TRUE(c.start());
  uint64_t size = 32 * kMiB;
  std::string file = make_file(c, "changing.bin", size, 9);
  c.proxy.set_rate(8 * 1000 * 1000);
  Sender s(c.alice, c.dir.sub("send.log"), {"bob", file});
  ASSERT_TRUE(wait_for([&] { return s.done() >= size / 10; })) << read_text(s.log);
  if (truncate) {
    fs::resize_file(file, size / 2);
  } else {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(size - kMiB));
    f.write("changed!", 8);
  }
  c.proxy.set_rate(0);
  EXPECT_EQ(s.p.wait(180000), 1) << read_text(s.log);
  std::string log = read_text(s.log);
  EXPECT_TRUE(s.saw_status("FAILED")) << log;
  EXPECT_NE(log.find("changed"), std::string::npos) << log;
  EXPECT_TRUE(files_under(c.files_dir()).empty());
}

TEST(upload_e2e, source_truncated_mid_upload_fails) { source_change_fails(true); }
TEST(upload_e2e, source_changed_in_place_mid_upload_fails) { source_change_fails(false); }

TEST(upload_e2e, image_message_shows_metadata_and_thumbnail_at_once) {
  Cluster c;
  ASSERT_TRUE(c.start());
  std::string image = std::string(FERRY_SOURCE_DIR) + "/fixtures/media/sample-1280x720.jpg";
  RunResult r = c.alice.run({"send-file", "bob", image});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ready ["), std::string::npos) << r.out;
  auto bob = bob_until_ready(c, 1);
  bool seen = false;
  for (const JsonLine& l : bob) {
    if (!l.is("message")) continue;
    seen = true;
    EXPECT_EQ(l.str("kind"), "image");
    EXPECT_EQ(l.str("name"), "sample-1280x720.jpg");
    EXPECT_EQ(l.str("mime"), "image/jpeg");
    EXPECT_EQ(l.str("sha256"), sha256_file(image));
    EXPECT_EQ(l.num("size"), double(fs::file_size(image)));
    EXPECT_EQ(l.num("width"), 1280);
    EXPECT_EQ(l.num("height"), 720);
    EXPECT_EQ(l.num("thumb_width"), 320);
    EXPECT_EQ(l.num("thumb_height"), 180);
  }
  EXPECT_TRUE(seen);
  // The human form names kind, size, type and dimensions.
  r = c.bob.run({"history", "alice"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("sample-1280x720.jpg ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("image/jpeg, 1280\u00d7720, thumbnail 320\u00d7180) ready"),
            std::string::npos)
      << r.out;
}

TEST(upload_e2e, cli_media_errors_are_clear) {
  Cluster c;
  ASSERT_TRUE(c.start());
  std::string file = make_file(c, "small.bin", 1000, 11);
  RunResult r = c.alice.run({"send-file", "bob", c.dir.sub("missing.bin")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("missing.bin"), std::string::npos) << r.err;
  r = c.alice.run({"send-file", "bob", c.dir.path()});
  EXPECT_EQ(r.status, 1) << r.out;
  r = c.alice.run({"send-file", "nobody", file, "--timeout", "60"});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.err.find("no such user"), std::string::npos) << r.err;
  r = c.alice.run({"send-file", "bob", file, "--kind", "sound"});
  EXPECT_EQ(r.status, 2);
  CliUser stranger{c.alice.server, c.dir.sub("stranger")};
  r = stranger.run({"send-file", "bob", file});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("log"), std::string::npos) << r.err;
  r = c.alice.run({"uploads"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("no pending uploads"), std::string::npos) << r.out;
  r = c.alice.run({"upload-cancel", "../../x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not an upload id"), std::string::npos) << r.err;
  r = c.alice.run({"upload-pause", "nosuchupload123"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no pending upload"), std::string::npos) << r.err;
}
