// Small text helpers for the CLI's media output: byte counts, rates, durations, the icon of a
// media kind, and the pixel size of a JPEG thumbnail (read from its SOF header, no decoding).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry::cli {

// "812 B", "1.2 KiB", "37.5 MiB", "4.00 GiB".
std::string format_bytes(uint64_t bytes);
// "0:07", "1:02:03"; "--:--" for a negative or absurd value (unknown ETA).
std::string format_duration(double seconds);
// "image", "video", "file" for a ferry_media_kind; "file" for anything else.
const char* kind_name(int kind);
// 🖼 🎞 📄
const char* kind_icon(int kind);
// "UPLOADING", "READY", ... for a ferry_msg_status (the JSON status lines use upper case).
const char* status_upper(int msg_status);

// Width and height of a baseline or progressive JPEG, from its first SOF marker. False when
// the bytes are not a JPEG or the header is cut short.
bool jpeg_dimensions(const unsigned char* data, size_t len, uint32_t& width, uint32_t& height);

}  // namespace ferry::cli
