#include "gui/model/message.h"

#include <cstdio>

namespace ferry::gui {

double Message::upload_fraction() const {
  if (status == MsgStatus::kReady) return 1.0;
  if (size == 0) return 0.0;
  return upload_done >= size ? 1.0 : double(upload_done) / double(size);
}

double Message::download_fraction() const {
  if (download == DownloadState::kDone) return 1.0;
  uint64_t total = download_total ? download_total : size;
  if (total == 0) return 0.0;
  return download_done >= total ? 1.0 : double(download_done) / double(total);
}

namespace {
const char* const kStatusNames[] = {"?",         "PENDING", "SENT",     "FAILED",
                                    "UPLOADING", "READY",   "CANCELLED"};
}

const char* status_name(MsgStatus s) {
  int i = static_cast<int>(s);
  return i >= 1 && i <= 6 ? kStatusNames[i] : kStatusNames[0];
}

bool parse_status(const std::string& name, MsgStatus* out) {
  for (int i = 1; i <= 6; i++) {
    if (name == kStatusNames[i]) {
      *out = static_cast<MsgStatus>(i);
      return true;
    }
  }
  return false;
}

std::string human_size(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1024ull * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(bytes) / 1024.0);
  } else if (bytes < 1024ull * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / (1024.0 * 1024.0 * 1024.0));
  }
  return buf;
}

std::string human_duration(uint64_t ms) {
  unsigned long long s = ms / 1000, h = s / 3600, m = (s / 60) % 60, sec = s % 60;
  char buf[32];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", h, m, sec);
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", m, sec);
  return buf;
}

}  // namespace ferry::gui
