#include "tests/integration/chaos_support.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ferry::test {

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool ChaosProcess::start(const std::string& dir, const std::string& name, int listen_port,
                         int upstream_port, uint64_t seed, const std::vector<std::string>& args) {
  summary_file_ = dir + "/" + name + ".summary.json";
  log_ = dir + "/" + name + ".log";
  std::vector<std::string> argv = {bin_path("ferry-chaos"),
                                   "--listen", "127.0.0.1:" + std::to_string(listen_port),
                                   "--upstream", "127.0.0.1:" + std::to_string(upstream_port),
                                   "--seed", std::to_string(seed),
                                   "--control", "127.0.0.1:0",
                                   "--summary-file", summary_file_,
                                   "--log-file", log_};
  argv.insert(argv.end(), args.begin(), args.end());
  // ferry-chaos prints "control on" after its proxy listens, so that line is the ready signal
  // (Process reads one address); the proxy's own port is therefore chosen here.
  for (int attempt = 0; attempt < 3; attempt++) {
    listen_port_ = listen_port != 0 ? listen_port : free_port();
    argv[2] = "127.0.0.1:" + std::to_string(listen_port_);
    if (p_.start(argv, "control on ")) {
      control_port_ = p_.port();
      return true;
    }
    if (listen_port != 0) break;  // a fixed port: retrying will not help
  }
  return false;
}

std::string ChaosProcess::control(const std::string& command) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(control_port_));
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string line = command + "\n";
    if (write(fd, line.data(), line.size()) == ssize_t(line.size())) {
      char c;
      while (read(fd, &c, 1) == 1 && c != '\n') reply += c;
    }
  }
  close(fd);
  return reply;
}

uint64_t summary_num(const std::string& summary, const std::string& dir, const std::string& key) {
  cJSON* j = cJSON_Parse(summary.c_str());
  const cJSON* o = dir.empty() ? j : cJSON_GetObjectItemCaseSensitive(j, dir.c_str());
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key.c_str());
  uint64_t n = cJSON_IsNumber(v) ? uint64_t(v->valuedouble) : 0;
  cJSON_Delete(j);
  return n;
}

uint64_t ChaosProcess::stat(const std::string& dir, const std::string& key) {
  std::string r = control("stats");
  if (r.rfind("ok ", 0) != 0) return 0;
  return summary_num(r.substr(3), dir, key);
}

std::string ChaosProcess::stop() {
  if (p_.pid() <= 0) return summary_;
  p_.terminate(10000);
  std::ifstream f(summary_file_);
  std::getline(f, summary_);
  return summary_;
}

void MessageCheck::evaluate(const std::vector<std::string>& received) {
  std::map<std::string, int> seen;
  for (const std::string& t : received) seen[t]++;
  std::map<std::string, bool> sent;
  for (const std::string& t : attempted) sent[t] = true;
  lost = duplicated = unexpected = 0;
  for (const std::string& t : acked)
    if (seen.find(t) == seen.end()) lost++;
  for (const auto& [t, n] : seen) {
    if (n > 1) duplicated += uint64_t(n - 1);
    if (!sent.count(t)) unexpected++;
  }
}

void ScenarioReport::emit(const std::string& dir) const {
  std::printf(
      "[ chaos    ] %-24s seed=%llu sent=%llu resent=%llu resumes=%llu %.1fs hash=%s "
      "msgs=%llu acked=%llu lost=%llu dup=%llu unexpected=%llu\n",
      name.c_str(), (unsigned long long)seed, (unsigned long long)bytes_sent,
      (unsigned long long)bytes_resent, (unsigned long long)resumes, seconds, hash_check.c_str(),
      (unsigned long long)messages, (unsigned long long)acked, (unsigned long long)lost,
      (unsigned long long)duplicated, (unsigned long long)unexpected);
  std::fflush(stdout);
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "name", name.c_str());
  cJSON_AddNumberToObject(j, "seed", double(seed));
  cJSON_AddNumberToObject(j, "file_size", double(file_size));
  cJSON_AddNumberToObject(j, "bytes_sent", double(bytes_sent));
  cJSON_AddNumberToObject(j, "bytes_resent", double(bytes_resent));
  cJSON_AddNumberToObject(j, "resumes", double(resumes));
  cJSON_AddNumberToObject(j, "seconds", seconds);
  cJSON_AddStringToObject(j, "hash_check", hash_check.c_str());
  cJSON_AddNumberToObject(j, "messages", double(messages));
  cJSON_AddNumberToObject(j, "acked", double(acked));
  cJSON_AddNumberToObject(j, "lost", double(lost));
  cJSON_AddNumberToObject(j, "duplicated", double(duplicated));
  cJSON_AddNumberToObject(j, "unexpected", double(unexpected));
  cJSON* chaos = cJSON_Parse(chaos_summary.c_str());
  if (chaos) cJSON_AddItemToObject(j, "chaos", chaos);
  char* text = cJSON_Print(j);
  const char* env = std::getenv("FERRY_REPORT_DIR");
  std::string out_dir = env && *env ? env : dir;
  std::ofstream(out_dir + "/" + name + "-seed" + std::to_string(seed) + ".json") << text << "\n";
  cJSON_free(text);
  cJSON_Delete(j);
}

}  // namespace ferry::test
