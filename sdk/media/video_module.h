// The boundary between libferry and libferry_video.so, the module that holds the libav code.
//
// Why a module: libavformat/libavcodec/libswscale pull in ~110 more shared libraries (every
// codec Debian builds them with). Linked into libferry, the dynamic loader spent ~55 ms of CPU
// resolving their symbols at the start of every process that uses the SDK, before main(),
// whether or not it ever sends a video (`ferry --help`: 86 ms, of which ~70 ms were those
// libraries). So libferry loads the module with dlopen() the first time a video is probed.
//
// A plain C interface, versioned by the symbol's name, so the two binaries share no C++ types.
// Both are built from this tree; a module of another version is simply not found.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FERRY_VIDEO_PROBE_SYMBOL "ferry_video_probe_v1"
#define FERRY_VIDEO_MODULE_NAME "libferry_video.so"

typedef struct ferry_video_probe_result {
  int width;
  int height;
  int64_t duration_ms;
  unsigned char* thumb_jpeg;  // malloc'ed by the module, free()d by the caller; NULL: none
  size_t thumb_len;
  int thumb_width;
  int thumb_height;
  char err[256];  // why it failed, NUL-terminated
} ferry_video_probe_result;

// 1: `out` is filled. 0: the file is not a video libav can decode; `out->err` says why.
typedef int (*ferry_video_probe_fn)(const char* path, ferry_video_probe_result* out);
