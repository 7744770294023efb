// MIME sniffing from a file's first bytes (see thumbnail.h). The display name a user gives is
// shown as given but never used to decide how the bytes are treated.
#include <cstdio>
#include <cstring>

#include "sdk/media/thumbnail.h"

namespace ferry::media {

static bool starts(const unsigned char* b, size_t n, const char* magic, size_t len, size_t at = 0) {
  return n >= at + len && std::memcmp(b + at, magic, len) == 0;
}

std::string sniff_mime(const std::string& path) {
  unsigned char b[64] = {0};
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return "application/octet-stream";
  size_t n = fread(b, 1, sizeof b, f);
  fclose(f);
  if (starts(b, n, "\xFF\xD8\xFF", 3)) return "image/jpeg";
  if (starts(b, n, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
  if (starts(b, n, "GIF87a", 6) || starts(b, n, "GIF89a", 6)) return "image/gif";
  if (starts(b, n, "RIFF", 4) && starts(b, n, "WEBP", 4, 8)) return "image/webp";
  if (starts(b, n, "RIFF", 4) && starts(b, n, "AVI ", 4, 8)) return "video/x-msvideo";
  if (starts(b, n, "BM", 2)) return "image/bmp";
  if (starts(b, n, "ftyp", 4, 4)) {
    if (starts(b, n, "qt  ", 4, 8)) return "video/quicktime";
    if (starts(b, n, "heic", 4, 8) || starts(b, n, "heix", 4, 8)) return "image/heic";
    return "video/mp4";
  }
  if (starts(b, n, "\x1A\x45\xDF\xA3", 4)) {
    // EBML: WebM declares its DocType near the start; anything else is Matroska.
    for (size_t i = 0; i + 4 <= n; i++)
      if (std::memcmp(b + i, "webm", 4) == 0) return "video/webm";
    return "video/x-matroska";
  }
  if (starts(b, n, "%PDF-", 5)) return "application/pdf";
  if (starts(b, n, "PK\x03\x04", 4)) return "application/zip";
  bool text = n > 0;
  for (size_t i = 0; i < n && text; i++)
    if (b[i] < 0x09 || (b[i] > 0x0d && b[i] < 0x20)) text = false;
  return text ? "text/plain" : "application/octet-stream";
}

}  // namespace ferry::media
