#pragma once
// Shared bits of the worker-endpoint integration tests (workers_*_test.cpp): deterministic
// bodies, OpenSSL CLI digests, raw uploads (Content-Length or chunked), JSON and RSS probes,
// /debug/workers probes.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "tests/integration/http_client.hpp"
#include "tests/integration/test_support.hpp"

namespace nodus::testing {

// NODUS_TEST_SCALE=small (asan/tsan presets) shrinks the big cases.
inline bool small_scale() {
  const char* s = std::getenv("NODUS_TEST_SCALE");
  return s != nullptr && std::string_view(s) == "small";
}

inline std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<char>(v >> (8 * b));
  }
  for (; i < n; ++i) out[i] = static_cast<char>(rng());
  return out;
}

// A scratch directory, removed with its contents on destruction.
class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nodus-w5-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path write(const std::string& name, std::string_view bytes) const {
    const auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

 private:
  std::filesystem::path path_;
};

// `openssl dgst -<alg> -r FILE` → the hex digest.
inline std::string openssl_file_digest(std::string_view alg, const std::filesystem::path& file) {
  const auto r = run_command("openssl dgst -" + std::string(alg) + " -r '" + file.string() + "'");
  if (r.exit_code != 0) throw std::runtime_error("openssl dgst failed: " + r.out);
  return r.out.substr(0, r.out.find(' '));
}

inline std::string openssl_digest(std::string_view alg, std::string_view data) {
  temp_dir dir;
  return openssl_file_digest(alg, dir.write("body", data));
}

// Feeds `openssl dgst` through a pipe as the bytes are produced (no copy of a big body).
class openssl_stream {
 public:
  explicit openssl_stream(std::string_view alg) : out_(dir_.path() / "digest") {
    pipe_ = ::popen(("openssl dgst -" + std::string(alg) + " -r > '" + out_.string() + "'").c_str(), "w");
    if (pipe_ == nullptr) throw std::runtime_error("popen openssl failed");
  }
  ~openssl_stream() {
    if (pipe_ != nullptr) ::pclose(pipe_);
  }
  openssl_stream(const openssl_stream&) = delete;
  openssl_stream& operator=(const openssl_stream&) = delete;
  void update(std::string_view bytes) { std::fwrite(bytes.data(), 1, bytes.size(), pipe_); }
  std::string finish() {
    ::pclose(pipe_);
    pipe_ = nullptr;
    std::ifstream in(out_);
    std::string hex;
    in >> hex;
    return hex;
  }

 private:
  temp_dir dir_;
  std::filesystem::path out_;
  FILE* pipe_ = nullptr;
};

inline std::string content_length_request(std::string_view target, std::string_view body) {
  std::string r = "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

// The body in chunked transfer coding, cut at pseudo-random sizes (1 B .. max_chunk).
inline std::string chunked_request(std::string_view target, std::string_view body, std::uint64_t seed,
                                   std::size_t max_chunk = 70'000) {
  std::mt19937_64 rng(seed);
  std::string r = "POST " + std::string(target) +
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::size_t at = 0;
  while (at < body.size()) {
    const std::size_t n = std::min(body.size() - at, 1 + static_cast<std::size_t>(rng() % max_chunk));
    std::ostringstream size;
    size << std::hex << n;
    r += size.str() + "\r\n";
    r.append(body.substr(at, n));
    r += "\r\n";
    at += n;
  }
  r += "0\r\n\r\n";
  return r;
}

inline std::string chunk_header(std::size_t n) {
  std::ostringstream size;
  size << std::hex << n << "\r\n";
  return size.str();
}

inline boost::json::object json_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) throw std::runtime_error("not a JSON object: " + body.substr(0, 200));
  return std::move(v.as_object());
}

inline std::string json_string(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// VmRSS of a process in bytes (from /proc/<pid>/status).
inline std::uint64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  throw std::runtime_error("no VmRSS for pid " + std::to_string(pid));
}

// The source tree; nodus_test() defines NODUS_SOURCE_DIR for every test target.
inline std::string source_dir() { return NODUS_SOURCE_DIR; }

// --- /debug/workers ---

inline boost::json::object debug_workers(http_client& c) {
  const auto res = c.get("/debug/workers");
  REQUIRE(res.result_int() == 200);
  return json_object(res.body());
}

inline std::uint64_t kind_count(const boost::json::object& stats, std::string_view kind, std::string_view field) {
  return stats.at("kinds").as_object().at(kind).as_object().at(field).to_number<std::uint64_t>();
}

inline void send_get(http_client& c, std::string_view target) {
  REQUIRE_FALSE(c.write("GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
}

// Polls /debug/workers until `pred(stats)` or the timeout.
template <class Pred>
bool wait_stats(http_client& c, Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(debug_workers(c))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace nodus::testing
