#include "harness/scenarios/rigs.h"

#include <sys/mount.h>

#include <filesystem>

namespace ferry::scenarios {

using test::bin_path;
using test::RunResult;

bool register_pair(const CliUser& alice, const CliUser& bob, Verdict& v) {
  RunResult r = alice.run({"register", "alice", "alice-password"});
  if (!v.check(r.status == 0, "register alice", r.err)) return false;
  r = bob.run({"register", "bob", "bob-password"});
  return v.check(r.status == 0, "register bob", r.err);
}

std::vector<std::string> alice_texts(const std::string& cli_json) {
  std::vector<std::string> v;
  for (const test::JsonLine& l : test::json_lines(cli_json))
    if (l.is("message") && l.str("from") == "alice" && !l.str("text").empty())
      v.push_back(l.str("text"));
  return v;
}

static std::string stored_under(const std::string& res, const std::string& sha) {
  return res + "/files/" + sha.substr(0, 2) + "/" + sha;
}

bool UploadRig::start(uint64_t seed, const std::vector<std::string>& faults, Verdict& v) {
  if (!v.check(chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                            dir.sub("chat"), "--secret-file", dir.sub("secret.key"),
                            "--kdf-iterations", "1000", "--idle-timeout-ms", "3000"}),
               "ferry-chatd did not start"))
    return false;
  int chaos_port = free_port();
  if (!v.check(resd.start({bin_path("ferry-resd"), "--listen", "127.0.0.1:0", "--data",
                           dir.sub("res"), "--secret-file", dir.sub("secret.key"), "--chat",
                           chatd.address(), "--advertise",
                           "127.0.0.1:" + std::to_string(chaos_port), "--idle-timeout-ms", "1500"}),
               "ferry-resd did not start"))
    return false;
  if (!v.check(chaos.start(dir.path(), "chaos", chaos_port, resd.port(), seed, faults),
               "ferry-chaos did not start"))
    return false;
  alice = {chatd.address(), dir.sub("alice")};
  bob = {chatd.address(), dir.sub("bob")};
  return register_pair(alice, bob, v);
}

std::string UploadRig::stored_path(const std::string& sha) const {
  return stored_under(dir.sub("res"), sha);
}

bool ChatRig::start(uint64_t seed, const std::vector<std::string>& faults, Verdict& v) {
  if (!v.check(chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                            dir.sub("chat"), "--kdf-iterations", "1000", "--idle-timeout-ms",
                            "1500"}),
               "ferry-chatd did not start"))
    return false;
  if (!v.check(chaos.start(dir.path(), "chaos", 0, chatd.port(), seed, faults),
               "ferry-chaos did not start"))
    return false;
  alice = {chatd.address(), dir.sub("alice")};
  bob = {chatd.address(), dir.sub("bob")};
  alice_via = {chaos.address(), alice.state};
  bob_via = {chaos.address(), bob.state};
  return register_pair(alice, bob, v);
}

TmpfsMount::~TmpfsMount() {
  if (!dir_.empty()) umount2(dir_.c_str(), MNT_DETACH);
}

bool TmpfsMount::mount(const std::string& dir, const std::string& size) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string opts = "size=" + size + ",mode=0700";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) return false;
  dir_ = dir;
  return true;
}

bool TmpfsMount::resize(const std::string& size) {
  std::string opts = "size=" + size + ",mode=0700";
  return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) == 0;
}

bool CrashRig::start_chatd(Verdict& v) {
  if (!v.check(chatd.start({bin_path("ferry-chatd"), "--listen",
                            "127.0.0.1:" + std::to_string(chat_port), "--data", dir.sub("chat"),
                            "--secret-file", dir.sub("secret.key"), "--kdf-iterations", "1000",
                            "--idle-timeout-ms", "3000"},
                           "listening on ", 60000),
               "ferry-chatd did not start on port " + std::to_string(chat_port)))
    return false;
  chat_port = chatd.port();
  return true;
}

bool CrashRig::start_resd(Verdict& v) {
  // With HTTP, both ports are chosen up front and the ready line is the HTTP one (printed
  // once both listen), so a restart finds the same two ports again.
  if (http_port > 0 && resd_port == 0) resd_port = free_port();
  std::vector<std::string> argv = {
      bin_path("ferry-resd"), "--listen", "127.0.0.1:" + std::to_string(resd_port), "--data",
      dir.sub("res"), "--secret-file", dir.sub("secret.key"), "--chat",
      "127.0.0.1:" + std::to_string(chat_port), "--advertise",
      "127.0.0.1:" + std::to_string(chaos_port), "--idle-timeout-ms", "1500"};
  if (http_port > 0) argv.insert(argv.end(), {"--http", "127.0.0.1:" + std::to_string(http_port)});
  if (!v.check(resd.start(argv, http_port > 0 ? "http listening on " : "listening on ", 60000),
               "ferry-resd did not start on port " + std::to_string(resd_port)))
    return false;
  if (http_port == 0) resd_port = resd.port();
  return true;
}

bool CrashRig::start(uint64_t seed, const std::vector<std::string>& faults, Verdict& v) {
  if (!start_chatd(v)) return false;
  chaos_port = free_port();
  if (!start_resd(v)) return false;
  if (!v.check(chaos.start(dir.path(), "chaos", chaos_port, resd_port, seed, faults),
               "ferry-chaos did not start"))
    return false;
  alice = {chatd.address(), dir.sub("alice")};
  bob = {chatd.address(), dir.sub("bob")};
  return register_pair(alice, bob, v);
}

std::string CrashRig::stored_path(const std::string& sha) const {
  return stored_under(dir.sub("res"), sha);
}

}  // namespace ferry::scenarios
