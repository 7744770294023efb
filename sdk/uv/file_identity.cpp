#include "sdk/uv/file_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

FileIdentity from_stat(const struct stat& st) {
  return FileIdentity{static_cast<uint64_t>(st.st_size),
                      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                      static_cast<uint64_t>(st.st_ino)};
}

bool same(const FileIdentity& a, const FileIdentity& b) {
  return a.size == b.size && a.mtime_ns == b.mtime_ns && a.inode == b.inode;
}

}  // namespace

int identify_file(const std::string& path, FileIdentity& out, std::string& detail) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    detail = "cannot stat " + path + ": " + std::strerror(errno);
    return FERRY_ENOFILE;
  }
  if (!S_ISREG(st.st_mode)) {
    detail = path + " is not a regular file";
    return FERRY_ENOFILE;
  }
  if (::access(path.c_str(), R_OK) != 0) {
    detail = "cannot read " + path + ": " + std::strerror(errno);
    return FERRY_ENOFILE;
  }
  out = from_stat(st);
  return FERRY_OK;
}

int check_identity(int fd, const std::string& path, const FileIdentity& want,
                   std::string& detail) {
  struct stat open_st, path_st;
  if (::fstat(fd, &open_st) != 0 || ::stat(path.c_str(), &path_st) != 0) {
    detail = path + " was deleted or moved during the upload";
    return FERRY_ESOURCECHANGED;
  }
  if (!same(from_stat(open_st), want) || !same(from_stat(path_st), want) ||
      open_st.st_dev != path_st.st_dev) {
    detail = path + " changed during the upload (size, modification time or inode)";
    return FERRY_ESOURCECHANGED;
  }
  return FERRY_OK;
}

}  // namespace ferry::sdk
