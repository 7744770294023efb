// Content-addressed lookup of finished files (see file_lookup.h).
#include "servers/resource/store/file_lookup.h"

namespace ferry::resource {

std::string stored_file_path(const std::string& data_dir, std::string_view sha256_hex) {
  if (sha256_hex.size() != 64) return "";
  for (char c : sha256_hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  }
  std::string hex(sha256_hex);
  return data_dir + "/files/" + hex.substr(0, 2) + "/" + hex;
}

}  // namespace ferry::resource
