#pragma once
// Resolves a request path to an open file strictly beneath a root directory.
//
// The path is percent-decoded exactly once; what comes out must be valid UTF-8 without NUL,
// backslash or an encoded '/', and no segment may be "." or "..". The kernel then opens it
// with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) relative to the root's descriptor,
// so a symlink (or a concurrent rename) can never lead outside the root. Kernels without
// openat2 get an O_NOFOLLOW walk that refuses every symlink.
#include <sys/stat.h>

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace nodus::server::files {

// An open file descriptor, closed on destruction. Move-only.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();
  int get() const noexcept { return fd_; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

enum class resolve_error {
  bad_path,    // undecodable or hostile path (400/403-class): never touches the filesystem
  forbidden,   // exists but may not be served (escapes the root, not a regular file): 403
  not_found,   // 404
  io_error,    // other errno: 500
};

struct resolved_file {
  unique_fd fd;
  struct stat st{};
  std::string relative_path;  // decoded, normalised, beneath the root ("index.html")
};

// Percent-decodes `path` once and checks it. Returns the normalised relative path ("" for the
// root itself) or bad_path.
boost::system::result<std::string, resolve_error> decode_request_path(std::string_view path);

class path_resolver {
 public:
  // Opens `root` (a directory) once; throws std::system_error at start-up if it cannot.
  explicit path_resolver(const std::string& root);

  // `url_path` is the part of the target after the route prefix, before any '?'.
  // A directory resolves to its index.html, or not_found.
  boost::system::result<resolved_file, resolve_error> open(std::string_view url_path) const;

  bool uses_openat2() const noexcept { return openat2_; }

 private:
  boost::system::result<unique_fd, resolve_error> open_beneath(int dir_fd,
                                                               const std::string& rel) const;
  unique_fd root_;
  bool openat2_ = true;
};

const char* to_string(resolve_error e) noexcept;

}  // namespace nodus::server::files
