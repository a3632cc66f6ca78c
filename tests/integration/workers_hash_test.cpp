// POST /hash and GET /hash/files against the real binary; every digest is checked against
// the OpenSSL CLI (`openssl dgst`).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <thread>
#include <vector>

#include "tests/integration/workers_support.hpp"

using namespace nodus::testing;
namespace json = boost::json;

namespace {

// nodus's own --max-body must not matter to /hash (it streams); the limit stays the default.
std::string hash_of(http_client& c, std::string_view raw_request) {
  REQUIRE_FALSE(c.write(raw_request));
  const auto res = c.read();
  INFO(res.body());
  REQUIRE(res.result_int() == 200);
  const auto o = json_object(res.body());
  return json_string(o, "digest");
}

// The sizes most likely to break chunking: 0, 1, both sides of common buffer sizes
// (4 KiB pages, 16 KiB TLS-sized reads, 64 KiB socket reads, 1 MiB file chunks).
std::vector<std::size_t> edge_sizes() {
  std::vector<std::size_t> sizes{0, 1, 2, 100};
  for (const std::size_t b : {4096u, 8192u, 16384u, 65536u, 1u << 20}) {
    sizes.insert(sizes.end(), {b - 1, b, b + 1});
  }
  std::mt19937_64 rng(5);
  for (int i = 0; i < 6; ++i) sizes.push_back(rng() % (3u << 20));
  return sizes;
}

}  // namespace

TEST_CASE("POST /hash: Content-Length and chunked digests match openssl dgst", "[hash]") {
  running_nodus n;
  http_client c(n.port);
  std::uint64_t seed = 1;
  for (const std::size_t size : edge_sizes()) {
    INFO("size " << size);
    const std::string body = random_bytes(size, seed++);
    const std::string expected = openssl_digest("sha256", body);
    CHECK(hash_of(c, content_length_request("/hash", body)) == expected);
    CHECK(hash_of(c, chunked_request("/hash?alg=sha256", body, seed)) == expected);
  }
}

TEST_CASE("POST /hash: every algorithm in hex and base64", "[hash]") {
  running_nodus n;
  http_client c(n.port);
  const std::string body = random_bytes(200'001, 77);
  for (const std::string alg : {"sha256", "sha512", "sha1", "md5", "blake2b512", "sha3-256"}) {
    INFO(alg);
    const std::string target = "/hash?alg=" + alg;
    const auto res = c.request(http::verb::post, target, body);
    REQUIRE(res.result_int() == 200);
    const auto o = json_object(res.body());
    CHECK(json_string(o, "alg") == alg);
    CHECK(json_string(o, "digest") == openssl_digest(alg, body));
    CHECK(o.at("bytes").to_number<std::uint64_t>() == body.size());
  }
  // base64 of the binary digest, as `openssl dgst -binary | base64` prints it
  temp_dir dir;
  const auto file = dir.write("b", body);
  const auto b64 = run_command("openssl dgst -sha256 -binary '" + file.string() + "' | base64 -w0");
  const auto res = c.request(http::verb::post, "/hash?alg=sha256&encoding=base64", body);
  REQUIRE(res.result_int() == 200);
  CHECK(json_string(json_object(res.body()), "digest") == b64.out);
}

TEST_CASE("POST /hash: bad parameters are 400 before any body byte is read", "[hash]") {
  running_nodus n;
  {
    // Answered without reading the body: no 100-continue, and the connection closes after
    // the 400 (the unread body cannot be skipped safely).
    http_client c(n.port);
    const auto res = c.request(http::verb::post, "/hash?alg=sha257", "abc");
    CHECK(res.result_int() == 400);
    CHECK(json_error(res.body()) == "unsupported_alg");
    for (const char* alg : {"sha256", "sha512", "sha1", "md5", "blake2b512", "sha3-256"}) {
      CHECK(res.body().find(alg) != std::string::npos);
    }
    CHECK(c.read_until_closed(5s).closed);
  }
  {
    http_client c(n.port);
    REQUIRE_FALSE(c.write("POST /hash?encoding=base32 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
                          "Expect: 100-continue\r\n\r\n"));
    const auto res = c.read();
    CHECK(res.result_int() == 400);
    CHECK(json_error(res.body()) == "unsupported_encoding");
  }
  http_client c(n.port);
  CHECK(c.get("/hash").result_int() == 405);
  const auto res = c.request(http::verb::post, "/hash?alg=md5", "abc");
  CHECK(res.result_int() == 200);
  CHECK(json_string(json_object(res.body()), "digest") == "900150983cd24fb0d6963f7d28e17f72");
}

TEST_CASE("POST /hash: pipelined uploads answer in order", "[hash]") {
  running_nodus n;
  http_client c(n.port);
  std::vector<std::string> bodies;
  std::string wire;
  for (int i = 0; i < 4; ++i) {
    // The first is exactly four 1 MiB batches: its last fill is full, and the end comes only
    // with the read after it — the pipelined upload behind must not start before that.
    const std::size_t size = i == 0 ? std::size_t{4} << 20 : 1000 + 300'000 * i;
    bodies.push_back(random_bytes(size, 100 + i));
    wire += i % 2 ? chunked_request("/hash", bodies.back(), i) : content_length_request("/hash", bodies.back());
  }
  REQUIRE_FALSE(c.write(wire));
  for (const auto& b : bodies) {
    const auto res = c.read();
    REQUIRE(res.result_int() == 200);
    const auto o = json_object(res.body());
    CHECK(o.at("bytes").to_number<std::uint64_t>() == b.size());
    CHECK(json_string(o, "digest") == openssl_digest("sha256", b));
  }
}

// With one pool thread the uploads' drain jobs take turns (each yields to the jobs that wait
// once it has run its slice); with two they also run side by side.
TEST_CASE("POST /hash: concurrent uploads on several connections", "[hash]") {
  const std::string workers = GENERATE("1", "2");
  INFO("--workers " << workers);
  running_nodus n({"--workers", workers, "--worker-policy", "normal"});
  constexpr int clients = 4, uploads = 3;
  std::vector<std::string> bodies, expected;
  for (int i = 0; i < clients * uploads; ++i) {
    bodies.push_back(random_bytes(500'000 + 397'531 * i, 200 + i));
    expected.push_back(openssl_digest("sha256", bodies.back()));
  }
  std::array<int, clients> matched{};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      http_client c(n.port);
      for (int u = 0; u < uploads; ++u) {
        const int i = t * uploads + u;
        const std::string wire = u % 2 ? chunked_request("/hash", bodies[i], i) : content_length_request("/hash", bodies[i]);
        if (c.write(wire)) return;
        http_response res;
        if (c.read(res)) return;
        if (res.result_int() == 200 && json_string(json_object(res.body()), "digest") == expected[i]) ++matched[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < clients; ++t) CHECK(matched[t] == uploads);
}

// With the one pool thread held by other work, an upload's batches queue up (at most four
// 1 MiB buffers per upload: then the loop stops reading) and the one drain job queued for
// them hashes all that are there when it runs: no job, and no loop round trip, per batch.
// A longer body makes the loop wait for buffers the job hands back mid-job, and go on.
TEST_CASE("POST /hash: one drain job takes the batches queued while the pool was busy (--workers 1)", "[hash]") {
  running_nodus n({"--workers", "1", "--worker-policy", "normal"});
  http_client probe(n.port), blocker(n.port), c(n.port);
  const auto block_pool = [&] {
    send_get(blocker, "/demo/offload?ms=1500");
    REQUIRE(wait_stats(probe, [](const boost::json::object& s) { return kind_count(s, "offload", "busy") == 1; }));
  };

  block_pool();
  const std::string four = random_bytes((3u << 20) + 100, 41);  // three full batches and a partial
  CHECK(hash_of(c, content_length_request("/hash", four)) == openssl_digest("sha256", four));
  REQUIRE(blocker.read().result_int() == 200);
  CHECK(kind_count(debug_workers(probe), "hash", "submitted") == 1);

  block_pool();
  const std::string ten = random_bytes((10u << 20) + 7, 42);
  CHECK(hash_of(c, chunked_request("/hash", ten, 42)) == openssl_digest("sha256", ten));
  REQUIRE(blocker.read().result_int() == 200);
  // The paused body's socket was parked (out of the reactor) while the loop waited for
  // buffers; the next request on the connection is read as usual.
  CHECK(c.request(http::verb::post, "/hash?alg=md5", "abc").result_int() == 200);
}

// A client that leaves mid-upload cancels its queued drain job (the loop, reading on, sees
// the close at once); one that leaves while the loop waits for a buffer is seen when the
// job hands one back. Either way nothing is left busy or queued, and others are served.
TEST_CASE("POST /hash: a client that leaves mid-upload cancels its job", "[hash]") {
  running_nodus n({"--workers", "1", "--worker-policy", "normal"});
  http_client probe(n.port), blocker(n.port);
  const auto leave_mid_upload = [&](std::size_t sent, std::uint64_t submitted_before) {
    send_get(blocker, "/demo/offload?ms=1000");
    REQUIRE(wait_stats(probe, [](const boost::json::object& s) { return kind_count(s, "offload", "busy") == 1; }));
    http_client gone(n.port);
    // Declares 64 MiB; sends no more than the server's four batch buffers and the socket
    // buffers take, so the write never blocks.
    REQUIRE_FALSE(gone.write("POST /hash HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                             std::to_string(64u << 20) + "\r\n\r\n"));
    REQUIRE_FALSE(gone.write(random_bytes(sent, 43)));
    REQUIRE(wait_stats(probe, [&](const boost::json::object& s) {
      return kind_count(s, "hash", "submitted") == submitted_before + 1;
    }));
  };

  leave_mid_upload((5u << 20) / 2, 0);  // two batches queued, the third filling
  REQUIRE(wait_stats(probe, [](const boost::json::object& s) {
    return kind_count(s, "hash", "cancelled") == 1 && kind_count(s, "hash", "queued") == 0;
  }));
  REQUIRE(blocker.read().result_int() == 200);
  CHECK(kind_count(debug_workers(probe), "hash", "completed") == 0);

  leave_mid_upload((9u << 20) / 2, 1);  // four batches queued: the loop waits for a buffer
  REQUIRE(blocker.read().result_int() == 200);
  REQUIRE(wait_stats(probe, [](const boost::json::object& s) {
    return kind_count(s, "hash", "busy") == 0 && kind_count(s, "hash", "queued") == 0;
  }));

  http_client c(n.port);
  const std::string body = random_bytes(2u << 20, 44);
  CHECK(hash_of(c, content_length_request("/hash", body)) == openssl_digest("sha256", body));
}

// Broken chunked framing after a few MiB, with batches queued on the pool: a 400 JSON error
// for that request, no job left behind, and the server goes on serving.
TEST_CASE("POST /hash: a chunked body whose framing breaks mid-upload gets 400", "[hash]") {
  running_nodus n({"--workers", "1", "--worker-policy", "normal"});
  http_client probe(n.port);
  {
    http_client c(n.port);
    const std::string part = random_bytes(3u << 20, 45);
    REQUIRE_FALSE(c.write("POST /hash HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
    REQUIRE_FALSE(c.write(chunk_header(part.size()) + part + "\r\n"));
    REQUIRE_FALSE(c.write("zz-not-a-size\r\nabc\r\n0\r\n\r\n"));
    const auto res = c.read();
    CHECK(res.result_int() == 400);
    CHECK(json_error(res.body()) == "bad_request");
  }
  REQUIRE(wait_stats(probe, [](const boost::json::object& s) {
    return kind_count(s, "hash", "busy") == 0 && kind_count(s, "hash", "queued") == 0;
  }));
  http_client c(n.port);
  const std::string body = random_bytes(2u << 20, 46);
  CHECK(hash_of(c, chunked_request("/hash", body, 46)) == openssl_digest("sha256", body));
}

namespace {

// Streams `total` bytes (Content-Length or chunked) generated on the fly, feeding the same
// bytes to `openssl dgst`; samples the server's RSS as it goes. Returns {ours, openssl's}.
struct big_upload_result {
  std::string digest, expected;
  std::uint64_t bytes = 0;
  std::uint64_t rss_before = 0, rss_max = 0;
};

big_upload_result big_upload(running_nodus& n, std::uint64_t total, bool chunked) {
  http_client c(n.port);
  big_upload_result r;
  // Warm up the connection path and the pool first, so the baseline includes them.
  REQUIRE(c.request(http::verb::post, "/hash", random_bytes(4 << 20, 9)).result_int() == 200);
  r.rss_before = r.rss_max = rss_bytes(n.process.pid());
  openssl_stream expected("sha256");
  std::string head = "POST /hash?alg=sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  head += chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Content-Length: " + std::to_string(total) + "\r\n\r\n";
  REQUIRE_FALSE(c.write(head));
  // Writes of an odd size, each block different (its index stamped in), so a reordered or
  // repeated chunk changes the digest.
  std::string block = random_bytes((1u << 20) + 13, 31);
  std::uint64_t sent = 0, index = 0;
  while (sent < total) {
    const std::size_t n_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), total - sent));
    std::memcpy(block.data(), &index, sizeof index);
    const std::string_view piece(block.data(), n_bytes);
    expected.update(piece);
    if (chunked) REQUIRE_FALSE(c.write(chunk_header(n_bytes)));
    REQUIRE_FALSE(c.write(piece));
    if (chunked) REQUIRE_FALSE(c.write("\r\n"));
    sent += n_bytes;
    if (++index % 16 == 0) r.rss_max = std::max(r.rss_max, rss_bytes(n.process.pid()));
  }
  if (chunked) REQUIRE_FALSE(c.write("0\r\n\r\n"));
  const auto res = c.read(false, std::chrono::seconds(120));
  r.rss_max = std::max(r.rss_max, rss_bytes(n.process.pid()));
  INFO(res.body());
  REQUIRE(res.result_int() == 200);
  const auto o = json_object(res.body());
  r.digest = json_string(o, "digest");
  r.bytes = o.at("bytes").to_number<std::uint64_t>();
  r.expected = expected.finish();
  return r;
}

}  // namespace

// "A few MiB": the body must never be held whole (that would be +64 MiB at least); the
// server holds at most four 1 MiB batches per upload. Under ThreadSanitizer (the server is
// built with it too) every page touched also maps ~4x its size in shadow memory, which
// counts in RSS: the four batches alone then come to ~20 MiB (measured: +21 MiB).
#if defined(__SANITIZE_THREAD__)
constexpr std::uint64_t upload_rss_budget = 32u << 20;
#else
constexpr std::uint64_t upload_rss_budget = 8u << 20;
#endif

TEST_CASE("POST /hash: a big body streams through with bounded memory", "[hash][big]") {
  const std::uint64_t total = small_scale() ? 64ull << 20 : 1ull << 30;
  running_nodus n;
  for (const bool chunked : {false, true}) {
    INFO((chunked ? "chunked" : "Content-Length") << ", " << total << " bytes");
    const auto r = big_upload(n, total, chunked);
    CHECK(r.bytes == total);
    CHECK(r.digest == r.expected);
    INFO("RSS before " << r.rss_before << ", max " << r.rss_max);
    CHECK(r.rss_max - r.rss_before < upload_rss_budget);
  }
}

TEST_CASE("GET /hash/files: files under --root hashed in chunks", "[hash]") {
  temp_dir root;
  root.write("index.html", "<p>root</p>");
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::size_t size : {0u, 1u, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, 3u << 20, 5'555'555u}) {
    const std::string name = "f" + std::to_string(size) + ".bin";
    root.write("sub/" + name, random_bytes(size, size));
    files.emplace_back("sub/" + name, openssl_file_digest("sha512", root.path() / "sub" / name));
  }
  root.write("empty-dir/.keep", "");
  running_nodus n({"--root", root.path().string()});
  http_client c(n.port);
  for (const auto& [path, expected] : files) {
    INFO(path);
    const auto res = c.get("/hash/files/" + path + "?alg=sha512");
    REQUIRE(res.result_int() == 200);
    CHECK(json_string(json_object(res.body()), "digest") == expected);
  }
  // The path each file took (/debug/workers): from 512 KiB up, through a mapping; below, pread.
  std::uint64_t mapped = 0, preadd = 0;
  for (const std::size_t size : {0u, 1u, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, 3u << 20, 5'555'555u}) {
    (size >= (512u << 10) ? mapped : preadd) += size;
  }
  const auto reads = debug_workers(c).at("hash_file_reads").as_object();
  CHECK(reads.at("mapped_bytes").to_number<std::uint64_t>() == mapped);
  CHECK(reads.at("pread_bytes").to_number<std::uint64_t>() == preadd);
  CHECK(reads.at("shrunk").to_number<std::uint64_t>() == 0);
  auto res = c.get("/hash/files/nope.bin");
  CHECK(res.result_int() == 404);
  CHECK(json_error(res.body()) == "not_found");
  res = c.get("/hash/files/sub/..%2f..%2fetc/passwd");
  CHECK(res.result_int() == 400);
  res = c.get("/hash/files/sub/../index.html");
  CHECK(res.result_int() == 400);
  res = c.get("/hash/files/empty-dir");
  CHECK(res.result_int() == 404);
  res = c.get("/hash/files/sub/f1.bin?alg=whirlpool");
  CHECK(res.result_int() == 400);
  CHECK(json_error(res.body()) == "unsupported_alg");
}

TEST_CASE("GET /hash/files: the bundled sample image", "[hash]") {
  running_nodus n({"--root", source_dir() + "/public"});
  http_client c(n.port);
  const auto res = c.get("/hash/files/images/sample-640x480.jpg?alg=md5");
  REQUIRE(res.result_int() == 200);
  CHECK(json_string(json_object(res.body()), "digest") ==
        openssl_file_digest("md5", source_dir() + "/public/images/sample-640x480.jpg"));
}

// A file job hashes on while no other job waits for its thread (one job for a whole file),
// and hands the thread back within a step (1 MiB) once one does: with one pool thread, a
// small file asked for while a big one is being hashed is answered in between.
TEST_CASE("GET /hash/files: a long file job hands its thread to a job that waits (--workers 1)", "[hash]") {
  temp_dir root;
  // Sparse: reads as zeros from no disk blocks, so hashing it costs CPU only (~0.7 s at 1.5 GB/s).
  const std::uint64_t big_size = small_scale() ? (256u << 20) : (1u << 30);
  const auto big = root.write("big.bin", "");
  std::filesystem::resize_file(big, big_size);
  root.write("small.bin", random_bytes(100'000, 3));
  const std::string big_digest = openssl_file_digest("sha256", big);
  const std::string small_digest = openssl_file_digest("sha256", root.path() / "small.bin");
  // normal: under SCHED_IDLE (the default) a busy machine (a parallel build, other tests)
  // could starve the one pool thread for longer than the read timeout.
  running_nodus n({"--root", root.path().string(), "--workers", "1", "--worker-policy", "normal"});
  // Each connection is opened when it is first used, and the last stats are read on a fresh
  // one: on a loaded machine (a build beside the tests) the big file takes seconds, longer
  // than the server's 5 s keep-alive idle timeout, which closes a connection left waiting.
  http_client probe(n.port), a(n.port);

  // Alone: the whole file in one job.
  const auto alone = probe.get("/hash/files/small.bin");
  REQUIRE(alone.result_int() == 200);
  CHECK(json_string(json_object(alone.body()), "digest") == small_digest);
  CHECK(kind_count(debug_workers(probe), "hash", "completed") == 1);

  send_get(a, "/hash/files/big.bin");
  REQUIRE(wait_stats(probe, [](const boost::json::object& s) { return kind_count(s, "hash", "busy") == 1; }));
  http_client b(n.port);
  const auto small = b.get("/hash/files/small.bin");
  REQUIRE(small.result_int() == 200);
  CHECK(json_string(json_object(small.body()), "digest") == small_digest);
  const auto whole = a.read(false, std::chrono::seconds(60));
  REQUIRE(whole.result_int() == 200);
  const auto o = json_object(whole.body());
  CHECK(json_string(o, "digest") == big_digest);
  CHECK(o.at("bytes").to_number<std::uint64_t>() == big_size);
  // The big file took at least two jobs (it yielded to the small one, then went on).
  http_client late(n.port);
  const auto s = debug_workers(late);
  CHECK(kind_count(s, "hash", "completed") >= 4);
  CHECK(kind_count(s, "hash", "cancelled") == 0);
}

// A client gone stops its file job within a step, though the job runs on for as long as no
// other job waits: the file here would take ~45 s to hash.
TEST_CASE("GET /hash/files: a client that leaves stops its long file job", "[hash]") {
  temp_dir root;
  const auto huge = root.write("huge.bin", "");
  std::filesystem::resize_file(huge, std::uint64_t{64} << 30);  // sparse
  running_nodus n({"--root", root.path().string(), "--workers", "1"});
  http_client probe(n.port);
  {
    http_client gone(n.port);
    send_get(gone, "/hash/files/huge.bin");
    REQUIRE(wait_stats(probe, [](const boost::json::object& s) { return kind_count(s, "hash", "busy") == 1; }));
  }
  REQUIRE(wait_stats(probe, [](const boost::json::object& s) {
    return kind_count(s, "hash", "busy") == 0 && kind_count(s, "hash", "cancelled") == 1;
  }));
  const auto s = debug_workers(probe);
  CHECK(kind_count(s, "hash", "completed") == 0);
  CHECK(kind_count(s, "hash", "submitted") == 1);  // one job, stopped: not resubmitted
}

// The file is read through a mapping (workers::read_mapped): cut short under it, the job's
// next read past the new end faults. The server answers 409 and goes on serving.
TEST_CASE("GET /hash/files: a file cut short while it is being hashed gets 409, and the server goes on", "[hash]") {
  temp_dir root;
  // Allocated, not sparse (a sparse file is pread, not mapped), and quick to make: its blocks
  // read as zeros. 1 GiB: ~0.6 s to hash, far longer than the wait below takes to see it busy.
  const std::uint64_t big_size = std::uint64_t{1} << 30;
  const auto big = root.write("big.bin", "");
  {
    const int fd = ::open(big.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::posix_fallocate(fd, 0, static_cast<off_t>(big_size)) == 0);
    ::close(fd);
  }
  root.write("small.bin", random_bytes(3u << 20, 9));
  const std::string small_digest = openssl_file_digest("sha256", root.path() / "small.bin");
  running_nodus n({"--root", root.path().string(), "--workers", "1", "--worker-policy", "normal"});
  http_client probe(n.port), a(n.port);

  send_get(a, "/hash/files/big.bin");
  REQUIRE(wait_stats(probe, [](const boost::json::object& s) { return kind_count(s, "hash", "busy") == 1; }));
  std::filesystem::resize_file(big, 4096);
  const auto cut = a.read(false, std::chrono::seconds(60));
  REQUIRE(cut.result_int() == 409);
  CHECK(json_error(cut.body()) == "file_changed");

  // The same connection, another file; then the cut file as it is now.
  const auto small = a.get("/hash/files/small.bin");
  REQUIRE(small.result_int() == 200);
  CHECK(json_string(json_object(small.body()), "digest") == small_digest);
  const auto now = a.get("/hash/files/big.bin");
  REQUIRE(now.result_int() == 200);
  CHECK(json_string(json_object(now.body()), "digest") == openssl_file_digest("sha256", big));
  http_client late(n.port);  // `probe` may have idled past the keep-alive timeout meanwhile
  const auto s = debug_workers(late);
  CHECK(kind_count(s, "hash", "busy") == 0);
  CHECK(kind_count(s, "hash", "failed") == 0);
  CHECK(s.at("hash_file_reads").at("shrunk").to_number<std::uint64_t>() == 1);
}
