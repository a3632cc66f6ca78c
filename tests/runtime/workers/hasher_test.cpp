// Digests are checked against the `openssl dgst` command line, a separate implementation path
// (its own process, its own reading of the bytes), never against constants computed by us.
#include "runtime/workers/hasher.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace w = nodus::runtime::workers;

namespace {

bool small_scale() {
  const char* s = std::getenv("NODUS_TEST_SCALE");
  return s != nullptr && std::string_view(s) == "small";
}

std::string cli_flag(w::digest_alg alg) {
  std::string flag = "-";  // not "-" + std::string(...): GCC 12 -O3 -Wrestrict false positive
  flag += w::digest_alg_name(alg);
  return flag;
}

// Runs `cmd`, optionally writing `input` to its stdin, and returns its stdout (trimmed).
std::string run_shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  REQUIRE(pclose(p) == 0);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& data) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nodus-hash-XXXXXX").string();
    int fd = mkstemp(tmpl.data());
    REQUIRE(fd >= 0);
    close(fd);
    path = tmpl;
    std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  ~temp_file() { std::filesystem::remove(path); }
};

// `openssl dgst -r` prints "<hex> *<file>".
std::string cli_hex(w::digest_alg alg, const temp_file& f) {
  auto out = run_shell("openssl dgst " + cli_flag(alg) + " -r '" + f.path.string() + "'");
  return out.substr(0, out.find(' '));
}

std::string cli_base64(w::digest_alg alg, const temp_file& f) {
  return run_shell("openssl dgst " + cli_flag(alg) + " -binary '" + f.path.string() + "' | openssl base64 -A");
}

std::string random_bytes(std::size_t n, std::mt19937_64& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Feeds `data` in pieces whose sizes come from `rng` (1 byte up to 3 blocks), as request
// bodies arrive.
std::vector<std::uint8_t> digest_in_pieces(w::digest_alg alg, const std::string& data, std::mt19937_64& rng) {
  w::hasher h(alg);
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 400, data.size() - pos);
    h.update(std::string_view(data).substr(pos, n));
    pos += n;
  }
  CHECK(h.bytes() == data.size());
  return h.finish();
}

}  // namespace

TEST_CASE("hasher: names, parsing and the supported list") {
  for (auto name : w::supported_digest_algs()) {
    auto alg = w::parse_digest_alg(name);
    REQUIRE(alg);
    CHECK(w::digest_alg_name(*alg) == name);
  }
  CHECK(w::supported_digest_algs().size() == 6);
  CHECK_FALSE(w::parse_digest_alg("SHA256"));
  CHECK_FALSE(w::parse_digest_alg("sha384"));
  CHECK_FALSE(w::parse_digest_alg(""));
  CHECK(w::parse_digest_encoding("hex") == w::digest_encoding::hex);
  CHECK(w::parse_digest_encoding("base64") == w::digest_encoding::base64);
  CHECK_FALSE(w::parse_digest_encoding("base32"));
}

TEST_CASE("hasher: hex and base64 of every algorithm match openssl dgst") {
  std::mt19937_64 rng(42);
  // 0 B, 1 B, around the block sizes (64: sha1/sha256/md5; 128: sha512/blake2b; 136: sha3-256
  // rate) and the 55/56 and 111/112 padding edges, around 4 KiB, plus random sizes.
  std::vector<std::size_t> sizes{0,   1,   55,  56,  63,  64,   65,   111,  112,  119,
                                 120, 127, 128, 129, 135, 136,  137,  271,  272,  4095,
                                 4096, 4097, 65535, 65536, 65537};
  for (int i = 0; i < 6; ++i) sizes.push_back(rng() % 200'000);
  for (auto name : w::supported_digest_algs()) {
    const auto alg = *w::parse_digest_alg(name);
    for (std::size_t size : sizes) {
      INFO(name << " " << size << " B");
      const std::string data = random_bytes(size, rng);
      const temp_file f(data);
      const auto digest = digest_in_pieces(alg, data, rng);

      w::hasher whole(alg);
      whole.update(data);
      const auto whole_digest = whole.finish();
      CHECK(whole_digest == digest);
      CHECK(digest.size() == whole.digest_size());

      CHECK(w::encode_digest(digest, w::digest_encoding::hex) == cli_hex(alg, f));
      if (size % 7 == 0 || size < 2)  // base64 through a second CLI pipe: a subset suffices
        CHECK(w::encode_digest(digest, w::digest_encoding::base64) == cli_base64(alg, f));
    }
  }
}

TEST_CASE("hasher: base64 padding and a byte per step") {
  const std::vector<std::uint8_t> one{0xfb}, two{0xfb, 0xff}, three{0xfb, 0xff, 0x00};
  CHECK(w::to_base64(one) == "+w==");
  CHECK(w::to_base64(two) == "+/8=");
  CHECK(w::to_base64(three) == "+/8A");
  CHECK(w::to_base64({}) == "");
  CHECK(w::to_hex(three) == "fbff00");
}

TEST_CASE("hasher: a large stream fed in chunks matches openssl dgst reading a pipe") {
  // 1 GiB by default (NODUS_TEST_SCALE=small: 32 MiB), fed in 64 KiB chunks to the hasher and
  // to `openssl dgst` through a pipe, so nothing of that size is ever held or written.
  const std::uint64_t total = small_scale() ? (32ull << 20) : (1ull << 30);
  const std::size_t chunk = 64 << 10;
  std::string out_path = (std::filesystem::temp_directory_path() / "nodus-hash-XXXXXX").string();
  int fd = mkstemp(out_path.data());
  REQUIRE(fd >= 0);
  close(fd);
  FILE* p = popen(("openssl dgst -sha256 -r > '" + out_path + "'").c_str(), "w");
  REQUIRE(p != nullptr);
  w::hasher h(w::digest_alg::sha256);
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> buf(chunk / 8);
  for (std::uint64_t fed = 0; fed < total; fed += chunk) {
    for (auto& x : buf) x = rng();
    const std::span<const std::byte> bytes = std::as_bytes(std::span(buf));
    h.update(bytes);
    REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), p) == bytes.size());
  }
  REQUIRE(pclose(p) == 0);
  std::string cli;
  std::getline(std::ifstream(out_path), cli);
  std::filesystem::remove(out_path);
  CHECK(h.bytes() == total);
  CHECK(w::to_hex(h.finish()) == cli.substr(0, cli.find(' ')));
}

TEST_CASE("hasher: moved between threads between chunks") {
  // The HTTP layer's pattern: each chunk is a pool job; the hasher moves from job to job.
  std::mt19937_64 rng(3);
  const std::string data = random_bytes(300'000, rng);
  w::hasher h(w::digest_alg::sha512);
  for (std::size_t pos = 0; pos < data.size(); pos += 100'000) {
    std::thread t([&h, part = std::string_view(data).substr(pos, 100'000)] { h.update(part); });
    t.join();
  }
  const temp_file f(data);
  CHECK(w::to_hex(h.finish()) == cli_hex(w::digest_alg::sha512, f));
}

TEST_CASE("hash_file: a file from any offset, to its end, matches openssl dgst") {
  const auto how = GENERATE(w::file_read::mapped, w::file_read::pread);
  INFO((how == w::file_read::mapped ? "mapped" : "pread"));
  std::mt19937_64 rng(11);
  // Around the 512 KiB read piece (below it a mapped read preads), the 1 MiB step, the 8 MiB
  // mapping window, and an empty file.
  for (const std::size_t size : {0u, 1u, (512u << 10) - 1, 512u << 10, (512u << 10) + 1, (1u << 20) - 1, 1u << 20,
                                 (1u << 20) + 7, 3'333'333u, (8u << 20) + 4095}) {
    INFO("size " << size);
    const std::string data = random_bytes(size, rng);
    const temp_file f(data);
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    // Outside a pool job nothing asks it to yield: one call hashes the whole file.
    auto whole = w::hash_file(w::hasher(w::digest_alg::sha256), fd, 0, how);
    CHECK(whole.error == 0);
    CHECK_FALSE(whole.shrunk);
    CHECK_FALSE(whole.h);
    CHECK(whole.bytes == size);
    // The path taken: a mapping from one pread piece (512 KiB) left, else pread.
    const auto mapped_from = [how](std::size_t left) -> std::uint64_t {
      return how == w::file_read::mapped && left >= (512u << 10) ? left : 0;
    };
    CHECK(whole.mapped_bytes == mapped_from(size));
    CHECK(w::to_hex(whole.digest) == cli_hex(w::digest_alg::sha256, f));
    // Going on from an offset (as after a yield): the hasher fed with the first part.
    const std::size_t cut = size / 3;
    w::hasher h(w::digest_alg::sha512);
    h.update(std::string_view(data).substr(0, cut));
    auto rest = w::hash_file(std::move(h), fd, cut, how);
    CHECK(rest.bytes == size);
    CHECK(rest.mapped_bytes == mapped_from(size - cut));
    CHECK(w::to_hex(rest.digest) == cli_hex(w::digest_alg::sha512, f));
    ::close(fd);
  }
}

TEST_CASE("hash_file: a read error is reported, not hashed over") {
  int dir = ::open(std::filesystem::temp_directory_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir >= 0);
  // Not a regular file: no mapping; pread on a directory: EISDIR.
  const auto how = GENERATE(w::file_read::mapped, w::file_read::pread);
  const auto r = w::hash_file(w::hasher(w::digest_alg::sha256), dir, 0, how);
  CHECK(r.error == EISDIR);
  CHECK_FALSE(r.h);
  CHECK(r.digest.empty());
  ::close(dir);
}

TEST_CASE("hash_file: a file now shorter than the offset it goes on from is reported as shrunk") {
  // A job that yielded at `offset`, and the file cut below it before the next job.
  const auto how = GENERATE(w::file_read::mapped, w::file_read::pread);
  std::mt19937_64 rng(12);
  const std::string data = random_bytes(3u << 20, rng);
  const temp_file f(data);
  const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  w::hasher h(w::digest_alg::sha256);
  h.update(std::string_view(data).substr(0, 2u << 20));
  std::filesystem::resize_file(f.path, 1u << 20);
  const auto r = w::hash_file(std::move(h), fd, 2u << 20, how);
  CHECK(r.shrunk);
  CHECK(r.error == 0);
  CHECK_FALSE(r.h);
  CHECK(r.digest.empty());
  ::close(fd);
}

TEST_CASE("hash_file: a sparse file is pread, not mapped (its holes would become page-cache pages)") {
  temp_file f("");
  std::filesystem::resize_file(f.path, 4u << 20);
  const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const auto r = w::hash_file(w::hasher(w::digest_alg::sha256), fd, 0, w::file_read::mapped);
  CHECK(r.bytes == 4u << 20);
  CHECK(r.mapped_bytes == 0);
  CHECK(w::to_hex(r.digest) == cli_hex(w::digest_alg::sha256, f));
  ::close(fd);
}
