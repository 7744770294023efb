// Support for upload_e2e_test.cpp: a chat server and a resource server (behind an
// UploadProxy) in a TempDir, with alice and bob registered through the `ferry` CLI
// (tests/support/cli_user.h has the CLI driving, JSON lines, noise files and polling).
#pragma once

#include <string>

#include "tests/integration/upload_e2e_proxy.h"
#include "tests/support/cli_user.h"
#include "tests/support/process.h"

namespace ferry::test {

class Cluster {
 public:
  Cluster();
  // Starts ferry-chatd, then ferry-resd linked to it (advertising the proxy); registers
  // alice and bob. False (with a gtest failure) if anything does not come up.
  bool start();
  bool start_chatd();  // on chat_port() if it is set, else an ephemeral port
  bool start_resd();   // on resd_port() if it is set, else an ephemeral port

  TempDir dir;
  Process chatd, resd;
  UploadProxy proxy;
  CliUser alice, bob;
  std::string res_dir() const { return dir.sub("res"); }
  std::string files_dir() const { return dir.sub("res") + "/files"; }
  std::string partial_dir() const { return dir.sub("res") + "/partial"; }
  // The stored copy of content with this hash (files/<sha[0:2]>/<sha>).
  std::string stored_path(const std::string& sha256) const;
  int chat_port() const { return chat_port_; }

 private:
  int chat_port_ = 0;
  int resd_port_ = 0;
};

}  // namespace ferry::test
