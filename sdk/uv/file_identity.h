// What "the same file" means for an upload: size, modification time (ns) and inode, recorded
// when the app called ferry_send_file() and checked again before every read. A file edited in
// place changes size or mtime; a file replaced (editors save by rename) changes inode; a
// deleted one fails stat. Any of these fails the upload with FERRY_ESOURCECHANGED instead of
// letting the server store bytes of two different files.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::sdk {

struct FileIdentity {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
};

// stat(path). FERRY_OK, or FERRY_ENOFILE (missing, unreadable, not a regular file).
int identify_file(const std::string& path, FileIdentity& out, std::string& detail);
// FERRY_OK when both the open fd and the path still match `want` (and are the same file),
// else FERRY_ESOURCECHANGED with a sentence.
int check_identity(int fd, const std::string& path, const FileIdentity& want,
                   std::string& detail);

}  // namespace ferry::sdk
