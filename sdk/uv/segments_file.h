// The record of a split download (sdk/core/download_segments.h) on disk, next to its
// partial file: `<partial>.segs`, replaced whole by rename so a reader sees one record or
// the next. Blocking file I/O of a few hundred bytes, on the loop thread like the partial's
// open and flock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sdk/core/download_segments.h"

namespace ferry::sdk {

std::string segments_path(const std::string& partial);

// Writes the record (a temporary file renamed over it). `durable`: fsync the file and its
// directory too: the first record of a split must exist before any byte lands beyond the
// partial's prefix. False with `detail` on an error.
bool write_segments_file(const std::string& path, const std::string& text, bool durable,
                         std::string& detail);

// The record at `path` for a file of `size` bytes whose partial holds `partial_size`: false
// with `why` empty when there is none, with `why` set when it is damaged or does not fit
// the partial (the caller then starts the file over). `segs` is empty unless true.
bool read_segments_file(const std::string& path, uint64_t size, uint64_t partial_size,
                        std::vector<Segment>& segs, std::string& why);

}  // namespace ferry::sdk
