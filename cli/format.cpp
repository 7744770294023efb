#include "cli/format.h"

#include <ferry.h>

#include <cmath>
#include <cstdio>

namespace ferry::cli {

std::string format_bytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int unit = -1;
  while (v >= 1024.0 && unit < 4) {
    v /= 1024.0;
    unit++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 359999) return "--:--";
  auto s = static_cast<uint64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return buf;
}

const char* kind_name(int kind) {
  switch (kind) {
    case FERRY_KIND_IMAGE:
      return "image";
    case FERRY_KIND_VIDEO:
      return "video";
    default:
      return "file";
  }
}

const char* kind_icon(int kind) {
  switch (kind) {
    case FERRY_KIND_IMAGE:
      return "\U0001F5BC";  // framed picture
    case FERRY_KIND_VIDEO:
      return "\U0001F39E";  // film frames
    default:
      return "\U0001F4C4";  // page
  }
}

const char* status_upper(int msg_status) {
  switch (msg_status) {
    case FERRY_MSG_PENDING:
      return "PENDING";
    case FERRY_MSG_SENT:
      return "SENT";
    case FERRY_MSG_FAILED:
      return "FAILED";
    case FERRY_MSG_UPLOADING:
      return "UPLOADING";
    case FERRY_MSG_READY:
      return "READY";
    case FERRY_MSG_CANCELLED:
      return "CANCELLED";
    default:
      return "UNKNOWN";
  }
}

bool jpeg_dimensions(const unsigned char* d, size_t len, uint32_t& width, uint32_t& height) {
  if (!d || len < 4 || d[0] != 0xFF || d[1] != 0xD8) return false;
  size_t i = 2;
  while (i + 4 <= len) {
    if (d[i] != 0xFF) return false;
    unsigned char marker = d[i + 1];
    if (marker == 0xFF) {  // fill byte
      i++;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      i += 2;  // markers without a length
      continue;
    }
    size_t seg = (size_t(d[i + 2]) << 8) | d[i + 3];
    if (seg < 2) return false;
    // SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
    bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (i + 9 > len) return false;
      height = (uint32_t(d[i + 5]) << 8) | d[i + 6];
      width = (uint32_t(d[i + 7]) << 8) | d[i + 8];
      return true;
    }
    if (marker == 0xDA || marker == 0xD9) return false;  // scan data before any SOF
    i += 2 + seg;
  }
  return false;
}

}  // namespace ferry::cli
