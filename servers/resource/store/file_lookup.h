// Where a finished file lives, for readers other than the upload path (the HTTP download
// side). The layout is FileStore's (files/<sha256[0:2]>/<sha256>, see file_store.h); this
// computes the same path from the hex hash a verified ticket carries, so nothing a client
// sends ever becomes part of a path.
#pragma once

#include <string>
#include <string_view>

namespace ferry::resource {

// DIR/files/<sha[0:2]>/<sha>, or "" unless `sha256_hex` is exactly 64 lowercase hex digits.
std::string stored_file_path(const std::string& data_dir, std::string_view sha256_hex);

}  // namespace ferry::resource
