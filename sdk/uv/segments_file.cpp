#include "sdk/uv/segments_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::sdk {

std::string segments_path(const std::string& partial) { return partial + ".segs"; }

bool write_segments_file(const std::string& path, const std::string& text, bool durable,
                         std::string& detail) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    detail = std::string("cannot create ") + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (ok && durable) ok = ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    detail = std::string("cannot write ") + path + ": " + std::strerror(err);
    return false;
  }
  if (durable) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return true;
}

bool read_segments_file(const std::string& path, uint64_t size, uint64_t partial_size,
                        std::vector<Segment>& segs, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = errno == ENOENT ? "" : std::string("cannot open ") + path + ": " + std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < (1u << 20))
    text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (!decode_segments(text, size, segs, why)) return false;
  for (const Segment& s : segs) {
    if (s.done > 0 && partial_size < s.next()) {
      why = "the partial file is shorter than its record says";
      segs.clear();
      return false;
    }
  }
  return true;
}

}  // namespace ferry::sdk
