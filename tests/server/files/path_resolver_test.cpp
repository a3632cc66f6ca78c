#include "server/files/path_resolver.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using nodus::server::files::decode_request_path;
using nodus::server::files::path_resolver;
using nodus::server::files::resolve_error;

namespace {

// root/ holds public files; outside/secret.txt must never be reachable.
struct sandbox {
  fs::path base;
  fs::path root;
  sandbox() {
    base = fs::temp_directory_path() / ("nodus-resolver-" + std::to_string(::getpid()));
    fs::remove_all(base);
    root = base / "root";
    fs::create_directories(root / "dir");
    fs::create_directories(root / "noindex");
    fs::create_directories(base / "outside");
    std::ofstream(root / "hello.txt") << "hello";
    std::ofstream(root / "dir" / "index.html") << "<p>dir</p>";
    std::ofstream(root / "%2e") << "literal percent name";
    std::ofstream(base / "outside" / "secret.txt") << "SECRET";
    fs::create_symlink(base / "outside" / "secret.txt", root / "abs-link");
    fs::create_symlink("../outside/secret.txt", root / "rel-link");
    fs::create_symlink("../outside", root / "dir-link");
    fs::create_symlink("hello.txt", root / "inside-link");
    fs::create_symlink(base / "outside" / "secret.txt", root / "noindex" / "index.html");
  }
  ~sandbox() { fs::remove_all(base); }
};

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()))) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

TEST_CASE("decode_request_path normalises and refuses hostile encodings", "[files]") {
  CHECK(*decode_request_path("hello.txt") == "hello.txt");
  CHECK(*decode_request_path("/a//b/") == "a/b");
  CHECK(*decode_request_path("") == "");
  CHECK(*decode_request_path("caf%C3%A9.txt") == "caf\xC3\xA9.txt");
  CHECK(*decode_request_path("%252e%252e/x") == "%2e%2e/x");  // decoded once only
  for (const char* bad : {"..", "../x", "a/../b", "%2e%2e/x", "%2E%2E", "a/%2e%2e/%2e%2e/x", ".",
                          "a/./b", "a%2fb", "a%2Fb", "a\\b", "..%5cx", "a%00b", "%c0%ae%c0%ae/x",
                          "%e0%80%ae", "%ed%a0%80", "%ff", "%", "%2", "%zz", "%c0%af"}) {
    INFO(bad);
    auto r = decode_request_path(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == resolve_error::bad_path);
  }
}

TEST_CASE("path_resolver never opens a file outside the root", "[files]") {
  sandbox box;
  path_resolver resolver(box.root.string());

  auto ok = resolver.open("hello.txt");
  REQUIRE(ok.has_value());
  CHECK(read_all(ok->fd.get()) == "hello");
  CHECK(ok->st.st_size == 5);

  auto inside = resolver.open("inside-link");  // a symlink that stays beneath the root
  REQUIRE(inside.has_value());
  CHECK(read_all(inside->fd.get()) == "hello");

  for (const char* hostile : {"abs-link", "rel-link", "dir-link/secret.txt", "../outside/secret.txt",
                              "%2e%2e/outside/secret.txt", "%252e%252e/outside/secret.txt",
                              "/..//../outside/secret.txt", "..%2foutside%2fsecret.txt",
                              "..\\outside\\secret.txt", "%c0%ae%c0%ae/outside/secret.txt",
                              "hello.txt%00.png", "noindex/", "noindex"}) {
    INFO(hostile);
    auto r = resolver.open(hostile);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() != resolve_error::io_error);
  }
  // An absolute path in the URL is relative to the root, never to '/'.
  CHECK_FALSE(resolver.open("/etc/passwd").has_value());
}

TEST_CASE("directories resolve to their index.html or not found", "[files]") {
  sandbox box;
  path_resolver resolver(box.root.string());
  auto dir = resolver.open("dir/");
  REQUIRE(dir.has_value());
  CHECK(dir->relative_path == "dir/index.html");
  CHECK(read_all(dir->fd.get()) == "<p>dir</p>");
  auto root_index = resolver.open("");
  REQUIRE_FALSE(root_index.has_value());  // the sandbox root has no index.html
  CHECK(root_index.error() == resolve_error::not_found);
  auto missing = resolver.open("nope.txt");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error() == resolve_error::not_found);
  auto literal = resolver.open("%252e");  // a file literally named "%2e"
  REQUIRE(literal.has_value());
  CHECK(read_all(literal->fd.get()) == "literal percent name");
}

TEST_CASE("the root itself must exist", "[files]") {
  CHECK_THROWS(path_resolver("/nonexistent/nodus-root"));
}
