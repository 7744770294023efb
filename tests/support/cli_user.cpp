#include "tests/support/cli_user.h"

#include <openssl/evp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ferry::test {

namespace fs = std::filesystem;

bool wait_for(const std::function<bool()>& pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

void write_noise_file(const std::string& path, uint64_t size, uint64_t seed) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  std::vector<uint64_t> buf(1 << 17);  // 1 MiB
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x1234567;
  while (size > 0) {
    for (uint64_t& w : buf) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    uint64_t n = std::min<uint64_t>(size, buf.size() * 8);
    f.write(reinterpret_cast<const char*>(buf.data()), std::streamsize(n));
    size -= n;
  }
}

std::string sha256_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), std::streamsize(buf.size()));
    if (f.gcount() > 0) EVP_DigestUpdate(ctx, buf.data(), size_t(f.gcount()));
  }
  unsigned char md[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; i++) {
    s += hex[md[i] >> 4];
    s += hex[md[i] & 15];
  }
  return s;
}

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), dir).string());
  }
  return out;
}

std::string JsonLine::str(const char* key) const {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j.get(), key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

double JsonLine::num(const char* key) const {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j.get(), key);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

std::vector<JsonLine> json_lines(const std::string& text) {
  std::vector<JsonLine> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) break;  // a line still being written
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] != '{') continue;
    cJSON* j = cJSON_Parse(line.c_str());
    if (j && cJSON_IsObject(j))
      out.push_back({std::shared_ptr<cJSON>(j, cJSON_Delete)});
    else
      cJSON_Delete(j);
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::string> CliUser::argv(const std::vector<std::string>& rest) const {
  std::vector<std::string> a = {bin_path("ferry"), "--server", server, "--state", state};
  a.insert(a.end(), rest.begin(), rest.end());
  return a;
}

}  // namespace ferry::test
