#include "server/files/path_resolver.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace nodus::server::files {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict UTF-8 (RFC 3629): rejects overlong forms such as C0 AE (an encoded '.'),
// surrogates and code points above U+10FFFF.
bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

resolve_error from_errno(int err) noexcept {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return resolve_error::not_found;
    case EXDEV:    // RESOLVE_BENEATH: the path would leave the root
    case ELOOP:    // a symlink where none may be (O_NOFOLLOW walk, magic links)
    case EACCES:
    case EPERM:
      return resolve_error::forbidden;
    default:
      return resolve_error::io_error;
  }
}

long sys_openat2(int dirfd, const char* path, open_how* how) noexcept {
  return ::syscall(SYS_openat2, dirfd, path, how, sizeof(open_how));
}

}  // namespace

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

unique_fd::~unique_fd() {
  if (fd_ >= 0) ::close(fd_);
}

const char* to_string(resolve_error e) noexcept {
  switch (e) {
    case resolve_error::bad_path: return "bad path";
    case resolve_error::forbidden: return "forbidden";
    case resolve_error::not_found: return "not found";
    case resolve_error::io_error: return "I/O error";
  }
  return "unknown";
}

boost::system::result<std::string, resolve_error> decode_request_path(std::string_view path) {
  std::string decoded;
  decoded.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return resolve_error::bad_path;
      const int hi = hex_value(path[i + 1]);
      const int lo = hex_value(path[i + 2]);
      if (hi < 0 || lo < 0) return resolve_error::bad_path;
      c = static_cast<char>(hi * 16 + lo);
      // An encoded '/' would let one segment hide a separator: refuse it outright.
      if (c == '/') return resolve_error::bad_path;
      i += 2;
    }
    if (c == '\0' || c == '\\') return resolve_error::bad_path;
    decoded += c;
  }
  if (!valid_utf8(decoded)) return resolve_error::bad_path;

  // Normalise: drop empty segments, refuse "." and ".." rather than interpret them.
  std::string out;
  std::size_t start = 0;
  while (start <= decoded.size()) {
    std::size_t end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view seg(decoded.data() + start, end - start);
    if (seg == "." || seg == "..") return resolve_error::bad_path;
    if (!seg.empty()) {
      if (!out.empty()) out += '/';
      out.append(seg);
    }
    start = end + 1;
  }
  return out;
}

path_resolver::path_resolver(const std::string& root) {
  root_ = unique_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_) throw std::system_error(errno, std::generic_category(), "open root " + root);
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH;
  const long probe = sys_openat2(root_.get(), ".", &how);
  if (probe >= 0) {
    ::close(static_cast<int>(probe));
  } else {
    openat2_ = errno != ENOSYS;
  }
}

boost::system::result<unique_fd, resolve_error> path_resolver::open_beneath(
    int dir_fd, const std::string& rel) const {
  const std::string path = rel.empty() ? "." : rel;
  if (openat2_) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = sys_openat2(dir_fd, path.c_str(), &how);
    if (fd < 0) return from_errno(errno);
    return unique_fd(static_cast<int>(fd));
  }
  // Fallback: walk one component at a time, refusing every symlink.
  unique_fd cur(::dup(dir_fd));
  if (!cur) return from_errno(errno);
  std::size_t start = 0;
  while (true) {
    std::size_t end = path.find('/', start);
    const bool last = end == std::string::npos;
    if (last) end = path.size();
    const std::string seg = path.substr(start, end - start);
    const int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
                      (last ? 0 : O_DIRECTORY);
    unique_fd next(::openat(cur.get(), seg.c_str(), flags));
    if (!next) return from_errno(errno);
    cur = std::move(next);
    if (last) return cur;
    start = end + 1;
  }
}

boost::system::result<resolved_file, resolve_error> path_resolver::open(
    std::string_view url_path) const {
  auto rel = decode_request_path(url_path);
  if (!rel) return rel.error();
  auto fd = open_beneath(root_.get(), *rel);
  if (!fd) return fd.error();
  resolved_file file;
  file.fd = std::move(*fd);
  file.relative_path = std::move(*rel);
  if (::fstat(file.fd.get(), &file.st) != 0) return from_errno(errno);
  if (S_ISDIR(file.st.st_mode)) {
    auto index = open_beneath(file.fd.get(), "index.html");
    if (!index) {
      return index.error() == resolve_error::forbidden ? resolve_error::forbidden
                                                       : resolve_error::not_found;
    }
    file.fd = std::move(*index);
    if (::fstat(file.fd.get(), &file.st) != 0) return from_errno(errno);
    file.relative_path += file.relative_path.empty() ? "index.html" : "/index.html";
  }
  if (!S_ISREG(file.st.st_mode)) return resolve_error::forbidden;
  return file;
}

}  // namespace nodus::server::files
