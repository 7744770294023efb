#include "tests/integration/upload_e2e_support.h"

#include <gtest/gtest.h>

namespace ferry::test {

Cluster::Cluster() {
  alice.state = dir.sub("alice");
  bob.state = dir.sub("bob");
}

bool Cluster::start_chatd() {
  std::string listen = "127.0.0.1:" + std::to_string(chat_port_);
  if (!chatd.start({bin_path("ferry-chatd"), "--listen", listen, "--data", dir.sub("chat"),
                    "--secret-file", dir.sub("secret.key"), "--kdf-iterations", "1000"}))
    return false;
  chat_port_ = chatd.port();
  alice.server = bob.server = chatd.address();
  return true;
}

bool Cluster::start_resd() {
  std::string listen = "127.0.0.1:" + std::to_string(resd_port_);
  if (!resd.start({bin_path("ferry-resd"), "--listen", listen, "--data", res_dir(), "--secret-file",
                   dir.sub("secret.key"), "--chat", "127.0.0.1:" + std::to_string(chat_port_),
                   "--advertise", "127.0.0.1:" + std::to_string(proxy.port())}))
    return false;
  resd_port_ = resd.port();
  proxy.set_target(resd_port_);
  return true;
}

bool Cluster::start() {
  if (!start_chatd()) return ADD_FAILURE() << "ferry-chatd did not start", false;
  if (!start_resd()) return ADD_FAILURE() << "ferry-resd did not start", false;
  RunResult r = alice.run({"register", "alice", "alice-password"});
  if (r.status != 0) return ADD_FAILURE() << "register alice: " << r.err, false;
  r = bob.run({"register", "bob", "bob-password"});
  if (r.status != 0) return ADD_FAILURE() << "register bob: " << r.err, false;
  return true;
}

std::string Cluster::stored_path(const std::string& sha256) const {
  return files_dir() + "/" + sha256.substr(0, 2) + "/" + sha256;
}

}  // namespace ferry::test
