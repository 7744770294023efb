// The process sets the scenarios run on, each in its own temp dir on 127.0.0.1, every process
// stopped by its pid when the rig goes away:
//   UploadRig  ferry-chatd, ferry-resd, and ferry-chaos in front of resd (resd advertises it);
//   ChatRig    ferry-chatd with ferry-chaos in front of it;
//   CrashRig   like UploadRig, but chatd and resd restart on their first ports and data, and
//              resd's data may live on a small tmpfs.
// alice and bob are registered through the `ferry` CLI; a failure to come up is a Verdict entry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/scenarios/chaos_process.h"
#include "harness/scenarios/verdict.h"
#include "tests/support/cli_user.h"
#include "tests/support/process.h"

namespace ferry::scenarios {

using test::CliUser;
using test::Process;
using test::TempDir;

struct UploadRig {
  TempDir dir;
  Process chatd, resd;
  ChaosProcess chaos;
  CliUser alice, bob;

  bool start(uint64_t seed, const std::vector<std::string>& faults, Verdict& v);
  std::string stored_path(const std::string& sha) const;
};

struct ChatRig {
  TempDir dir;
  Process chatd;
  ChaosProcess chaos;
  CliUser alice, bob;  // direct
  CliUser alice_via, bob_via;  // through the proxy
  uint64_t clients_via = 0;  // CLI processes run through the proxy (one connection each)

  bool start(uint64_t seed, const std::vector<std::string>& faults, Verdict& v);
};

// A tmpfs of `size` (e.g. "8m") mounted on a directory while it lives; root only.
class TmpfsMount {
 public:
  TmpfsMount() = default;
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  ~TmpfsMount();
  bool mount(const std::string& dir, const std::string& size);  // errno set on failure
  bool resize(const std::string& size);

 private:
  std::string dir_;
};

struct CrashRig {
  // Members are destroyed in reverse order: the processes go first, then the tmpfs mounted
  // inside dir is unmounted, and only then is dir removed (a mount point cannot be).
  TempDir dir;
  TmpfsMount res_mount;
  Process chatd, resd;
  ChaosProcess chaos;
  CliUser alice, bob;
  int chat_port = 0, resd_port = 0, chaos_port = 0;
  int http_port = 0;  // set before start(): resd also serves downloads over HTTP there

  bool start(uint64_t seed, const std::vector<std::string>& faults, Verdict& v);
  bool start_chatd(Verdict& v);  // again on chat_port once it is known
  bool start_resd(Verdict& v);   // again on resd_port once it is known
  std::string stored_path(const std::string& sha) const;
};

// The texts alice sent, from the JSON lines of `ferry history --json` or `listen --json`.
std::vector<std::string> alice_texts(const std::string& cli_json);

// Registers alice and bob (their CliUser must be set).
bool register_pair(const CliUser& alice, const CliUser& bob, Verdict& v);

}  // namespace ferry::scenarios
