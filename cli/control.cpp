#include "cli/control.h"

#include <filesystem>
#include <fstream>

namespace ferry::cli {
namespace {

std::string marker_path(const std::string& state_dir, const std::string& local_id) {
  return state_dir + "/cli-paused/" + local_id;
}

}  // namespace

bool valid_local_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool pause_marker_exists(const std::string& state_dir, const std::string& local_id) {
  if (!valid_local_id(local_id)) return false;
  std::error_code ec;
  return std::filesystem::exists(marker_path(state_dir, local_id), ec);
}

bool set_pause_marker(const std::string& state_dir, const std::string& local_id, bool paused) {
  if (!valid_local_id(local_id)) return false;
  std::error_code ec;
  std::string path = marker_path(state_dir, local_id);
  if (!paused) {
    std::filesystem::remove(path, ec);
    return !ec;
  }
  std::filesystem::create_directories(state_dir + "/cli-paused", ec);
  if (ec) return false;
  std::ofstream f(path, std::ios::trunc);
  return static_cast<bool>(f);
}

}  // namespace ferry::cli
