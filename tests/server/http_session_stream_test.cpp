// Streaming through http_session over a real socket: streamed request bodies (body_reader:
// Content-Length and chunked, 100-continue, route limits, backpressure, disconnects) and
// streamed responses (body_writer: chunked generator, sendfile file body, writer errors).
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/body_writer.hpp"
#include "server/loop_server.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/server/test_server.hpp"
#include "tests/support/proc_stats.hpp"

using namespace nodus::testing;
using namespace nodus::server;

namespace {

std::uint64_t fnv1a(std::uint64_t h, std::string_view data) {
  for (const unsigned char c : data) h = (h ^ c) * 1099511628211ull;
  return h;
}
constexpr std::uint64_t fnv_init = 14695981039346656037ull;

response text(std::string body) {
  response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  return res;
}

// Reads a body to its end, then answers "<bytes> <fnv1a> <largest chunk>".
struct body_counter : std::enable_shared_from_this<body_counter> {
  body_reader reader;
  responder res;
  std::uint64_t bytes = 0, hash = fnv_init;
  std::size_t largest = 0;
  std::function<void(boost::system::error_code)> on_error;
  void next() {
    reader.read([self = shared_from_this()](boost::system::error_code ec, std::string_view chunk) {
      if (ec) {
        if (self->on_error) self->on_error(ec);
        return;
      }
      if (chunk.empty()) {
        return self->res.send(text(std::to_string(self->bytes) + " " + std::to_string(self->hash) +
                                   " " + std::to_string(self->largest)));
      }
      self->bytes += chunk.size();
      self->hash = fnv1a(self->hash, chunk);
      self->largest = std::max(self->largest, chunk.size());
      self->next();
    });
  }
};

// Reads a body with read_into() into a buffer of `size` bytes, then answers
// "<bytes> <fnv1a> <fills>" (fills: completions that delivered bytes). With `first_chunk`, the
// first piece comes from read() (the two kinds of read may be mixed on one body).
struct body_filler : std::enable_shared_from_this<body_filler> {
  body_reader reader;
  responder res;
  std::vector<char> buffer;
  std::uint64_t bytes = 0, hash = fnv_init;
  std::size_t fills = 0;
  std::function<void(boost::system::error_code)> on_error;
  std::function<void()> on_fill;  // after each fill that delivered bytes (tests pause here)
  bool park = false;              // stop after the next fill (no further read_into)
  nodus::runtime::loop::event_loop* loop = nullptr;
  std::int64_t delay_ms = 0;      // with `loop`: wait this long before each next read_into
  bool then_read = false;         // after the first fill, read() the rest in chunks
  void next() {
    reader.read_into(buffer, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) {
        if (self->on_error) self->on_error(ec);
        return;
      }
      self->bytes += n;
      self->hash = fnv1a(self->hash, std::string_view(self->buffer.data(), n));
      if (n > 0) ++self->fills;
      if (n > 0 && self->on_fill) self->on_fill();
      if (n < self->buffer.size()) {  // the end
        return self->res.send(text(std::to_string(self->bytes) + " " + std::to_string(self->hash) +
                                   " " + std::to_string(self->fills)));
      }
      if (self->park) return;
      if (self->then_read) return self->read_rest();
      if (self->loop != nullptr && self->delay_ms > 0) {
        self->loop->set_timeout([self] { self->next(); }, self->delay_ms);
        return;
      }
      self->next();
    });
  }
  void read_rest() {
    reader.read([self = shared_from_this()](boost::system::error_code ec, std::string_view chunk) {
      if (ec) return;
      if (chunk.empty()) {
        return self->res.send(text(std::to_string(self->bytes) + " " + std::to_string(self->hash) +
                                   " " + std::to_string(self->fills)));
      }
      self->bytes += chunk.size();
      self->hash = fnv1a(self->hash, chunk);
      self->read_rest();
    });
  }
  void first_chunk_then_fill() {
    reader.read([self = shared_from_this()](boost::system::error_code ec, std::string_view chunk) {
      if (ec) return;
      self->bytes += chunk.size();
      self->hash = fnv1a(self->hash, chunk);
      self->next();
    });
  }
};

// A filler for the request being handled, with an `size`-byte buffer.
std::shared_ptr<body_filler> make_filler(const request_context& ctx, responder res, std::size_t size) {
  auto f = std::make_shared<body_filler>();
  f->reader = std::move(*ctx.body);
  f->res = std::move(res);
  f->buffer.resize(size);
  return f;
}

std::size_t query_size(const request& req) {
  const std::string target(req.target());
  const auto eq = target.find("size=");
  return eq == std::string::npos ? 65536 : std::stoul(target.substr(eq + 5));
}

// State shared with the /pause route (loop thread only, except the atomics).
struct pause_state {
  std::shared_ptr<body_counter> parked;  // read one chunk, then waits
  std::atomic<std::uint64_t> bytes_seen{0};
  std::atomic<bool> cancelled{false};
  std::atomic<int> read_error{0};
};

void add_stream_routes(router& r, pause_state* pause = nullptr) {
  const auto count = [](request&, const request_context& ctx, responder res) {
    auto c = std::make_shared<body_counter>();
    c->reader = std::move(*ctx.body);
    c->res = std::move(res);
    c->next();
  };
  r.add("/count", {http::verb::post}, count, {body_mode::streamed});
  r.add("/count-big", {http::verb::post}, count, {body_mode::streamed, 8u << 20});
  r.add("/count-small", {http::verb::post}, count, {body_mode::streamed, 100});
  // /fill?size=N: the body through read_into() with an N-byte buffer; /fill-mixed: read() once
  // first; /fill-then-read: one fill, then read() (from direct mode); /fill-slow: 50 ms
  // between fills.
  enum class mode { fill, mixed, then_read, slow };
  const auto fill = [](mode m) {
    return [m](request& req, const request_context& ctx, responder res) {
      auto f = make_filler(ctx, std::move(res), query_size(req));
      f->then_read = m == mode::then_read;
      if (m == mode::slow) {
        f->loop = &ctx.loop;
        f->delay_ms = 50;
      }
      if (m == mode::mixed) return f->first_chunk_then_fill();
      f->next();
    };
  };
  r.add("/fill", {http::verb::post}, fill(mode::fill), {body_mode::streamed, 64u << 20});
  r.add("/fill-mixed", {http::verb::post}, fill(mode::mixed), {body_mode::streamed, 64u << 20});
  r.add("/fill-then-read", {http::verb::post}, fill(mode::then_read), {body_mode::streamed, 64u << 20});
  r.add("/fill-slow", {http::verb::post}, fill(mode::slow), {body_mode::streamed, 64u << 20});
  r.add("/fill-small", {http::verb::post}, fill(mode::fill), {body_mode::streamed, 100});
  r.add("/hello", {http::verb::get},
        [](request&, const request_context&, responder res) { res.send(text("hello")); });
  // /gen?n=N: N chunks of 1000 bytes ('a' + i % 26) from a chunked_body_writer.
  r.add("/gen", {http::verb::get}, [](request& req, const request_context&, responder res) {
    const std::string target(req.target());
    const int n = std::stoi(target.substr(target.find('=') + 1));
    response_header h;
    h.result(http::status::ok);
    h.set(http::field::content_type, "text/plain");
    h.set(http::field::transfer_encoding, "chunked");
    res.send(std::move(h), std::make_unique<chunked_body_writer>([i = 0, n](std::string& out) mutable {
      if (i == n) return false;
      out.assign(1000, static_cast<char>('a' + i++ % 26));
      return true;
    }));
  });
  // /file?path=P&extra=E: P with sendfile, Content-Length claiming E bytes more than it has.
  r.add("/file", {http::verb::get}, [](request& req, const request_context&, responder res) {
    const std::string target(req.target());
    const auto amp = target.find('&');
    const std::string path = target.substr(target.find('=') + 1, amp - target.find('=') - 1);
    const std::uint64_t extra = std::stoull(target.substr(target.rfind('=') + 1));
    nodus::server::files::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    ::fstat(fd.get(), &st);
    const auto length = static_cast<std::uint64_t>(st.st_size) + extra;
    response_header h;
    h.result(http::status::ok);
    h.set(http::field::content_length, std::to_string(length));
    res.send(std::move(h), std::make_unique<file_body_writer>(std::move(fd), 0, length));
  });
  if (pause != nullptr) {
    r.add("/pause", {http::verb::post}, [pause](request&, const request_context& ctx, responder res) {
      auto c = std::make_shared<body_counter>();
      c->reader = std::move(*ctx.body);
      c->res = std::move(res);
      // The connection is gone: the handler lets go of the body (its reader holds the
      // session, which must not outlive the loop).
      c->res.on_cancel([pause] {
        pause->cancelled = true;
        pause->parked.reset();
      });
      c->on_error = [pause](boost::system::error_code ec) { pause->read_error = ec ? ec.value() : 0; };
      pause->parked = c;
      c->reader.read([pause, c](boost::system::error_code ec, std::string_view chunk) {
        if (ec) return c->on_error(ec);
        c->bytes += chunk.size();
        c->hash = fnv1a(c->hash, chunk);
        pause->bytes_seen = c->bytes;
      });
    }, {body_mode::streamed, std::numeric_limits<std::uint64_t>::max()});
  }
}

server_options stream_options() {
  server_options o;
  o.max_body = 4u << 20;
  o.idle_timeout = std::chrono::seconds(30);
  o.request_timeout = std::chrono::seconds(30);
  o.shutdown_timeout = std::chrono::seconds(20);
  return o;
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

// POST `target` with the 300000-byte `body` sent chunked, in chunks of odd sizes.
std::string chunked_post(std::string_view target, std::string_view body) {
  std::string out = "POST " + std::string(target) + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::size_t at = 0;
  for (std::size_t n : {1u, 7u, 70000u, 100000u, 129992u}) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size;
    out += body.substr(at, n);
    out += "\r\n";
    at += n;
  }
  return out + "0\r\n\r\n";
}

std::string expected_count(std::string_view body, std::size_t largest) {
  return std::to_string(body.size()) + " " + std::to_string(fnv1a(fnv_init, body)) + " " +
         std::to_string(largest);
}

}  // namespace

TEST_CASE("stream body: Content-Length and chunked bodies arrive whole, in bounded chunks",
          "[server][session][stream]") {
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  http_client c(s.port());
  const std::string body = pattern(300000);
  // Content-Length, with a pipelined request behind it: parsed only after the body.
  REQUIRE(!c.write("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n" + body +
                   "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(c.read().body() == expected_count(body, 65536));
  CHECK(c.read().body() == "hello");
  // Chunked, chunks of odd sizes, over the same connection.
  const std::string chunked = chunked_post("/count", body);
  REQUIRE(!c.write(chunked));
  const auto res = c.read();
  CHECK(res.result_int() == 200);
  CHECK(res.body().substr(0, res.body().rfind(' ')) ==
        expected_count(body, 0).substr(0, expected_count(body, 0).rfind(' ')));
  CHECK(std::stoul(res.body().substr(res.body().rfind(' ') + 1)) <= 65536);
  // No body at all: the reader reports the end at once.
  CHECK(c.request(http::verb::post, "/count").body() == "0 " + std::to_string(fnv_init) + " 0");
}

TEST_CASE("stream body: 100-continue is sent when the handler reads", "[server][session][stream]") {
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  const std::string file = "/tmp/nodus_stream_test_" + std::to_string(::getpid()) + ".bin";
  std::ofstream(file, std::ios::binary) << pattern(3u << 20);
  const auto r = curl("-o - --max-time 10 --expect100-timeout 30 --data-binary @" + file + " " +
                      url(s.port(), "/count"));
  std::remove(file.c_str());
  CHECK(r.out.starts_with(std::to_string(3u << 20) + " "));
}

TEST_CASE("stream body: the route's max_body overrides the server's", "[server][session][stream]") {
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  const std::string big = pattern(6u << 20);  // above --max-body (4 MiB), below /count-big's 8
  http_client c(s.port());
  REQUIRE(!c.write("POST /count-big HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                   std::to_string(big.size()) + "\r\n\r\n" + big));
  CHECK(c.read().body() == expected_count(big, 65536));
  REQUIRE(!c.write("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                   std::to_string(big.size()) + "\r\n\r\n"));
  CHECK(c.read().result_int() == 413);  // the server default applies to /count

  http_client small(s.port());
  REQUIRE(!small.write("POST /count-small HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n"));
  CHECK(small.read().result_int() == 413);
  http_client chunked(s.port());
  REQUIRE(!chunked.write("POST /count-small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "40\r\n" + std::string(64, 'x') + "\r\n40\r\n" + std::string(64, 'y') +
                         "\r\n0\r\n\r\n"));
  const auto res = chunked.read();
  CHECK(res.result_int() == 413);
  CHECK(res.body().find("100 bytes") != std::string::npos);
  CHECK(chunked.read_until_closed(5s).closed);
}

TEST_CASE("stream body: a handler that stops reading stops the upload (backpressure)",
          "[server][session][stream]") {
  pause_state pause;
  test_server s(stream_options(), [&](router& r) { add_stream_routes(r, &pause); });
  constexpr std::size_t total = 64u << 20;
  const std::string body = pattern(total);
  http_client c(s.port());
  REQUIRE(!c.write("POST /pause HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(total) +
                   "\r\n\r\n"));
  // Write without blocking until the kernel buffers are full: the server does not read.
  auto& sock = c.socket();
  sock.non_blocking(true);
  std::size_t written = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::size_t stalled_polls = 0;
  while (written < total && stalled_polls < 50 && std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    const std::size_t n = sock.write_some(net::buffer(body.data() + written, total - written), ec);
    written += n;
    if (ec == net::error::would_block) {
      ++stalled_polls;  // 50 polls over 0.5 s without progress: the pipe is full
      std::this_thread::sleep_for(10ms);
    } else {
      REQUIRE(!ec);
      stalled_polls = 0;
    }
  }
  INFO("bytes accepted by the kernel before the writer blocked: " << written);
  CHECK(written < total / 2);  // kernel buffers (a few MiB), not the server, took them
  CHECK(pause.bytes_seen.load() <= 65536);  // one read() → at most one chunk
  // Resume: the handler reads the rest.
  on_loop(s, [&](loop_server&) { pause.parked->next(); });
  sock.non_blocking(false);
  REQUIRE(!c.write(std::string_view(body).substr(written), 30s));
  const auto res = c.read(false, 30s);
  CHECK(res.body() == expected_count(body, 65536));
  on_loop(s, [&](loop_server&) { pause.parked.reset(); });
}

using nodus::test::open_fds;
using nodus::test::voluntary_switches;

TEST_CASE("stream body: a paused body's socket leaves the reactor until the handler reads again",
          "[server][session][stream]") {
  const std::size_t fds_before = open_fds();
  {
    pause_state pause;
    auto options = stream_options();
    options.shutdown_timeout = 1s;  // the last upload below is still paused at shutdown
    test_server s(options, [&](router& r) { add_stream_routes(r, &pause); });
    pid_t loop_tid = 0;
    on_loop(s, [&](loop_server&) { loop_tid = ::gettid(); });
    constexpr std::size_t total = 1000 + 200 * 1024 + 5000;
    const std::string body = pattern(total);
    const std::string post = "POST /pause HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n";

    // Sends 200 segments of the body, 1 ms apart, while the handler holds it: a socket still
    // in the reactor wakes the loop for each (edge-triggered EPOLLIN), a parked one not at
    // all. The loop's own timers may wake it meanwhile, as they do in as long without input.
    // Then the handler reads on: the socket is back in the reactor, nothing was lost.
    const auto paused_body_stays_quiet = [&](http_client& c) {
      const auto wakeups_during = [&](const std::function<void()>& fn) {
        const std::uint64_t before = voluntary_switches(loop_tid);
        const auto start = std::chrono::steady_clock::now();
        fn();
        return std::pair{voluntary_switches(loop_tid) - before, std::chrono::steady_clock::now() - start};
      };
      const auto [woke, took] = wakeups_during([&] {
        for (std::size_t i = 0; i < 200; ++i) {
          REQUIRE(!c.write(std::string_view(body).substr(1000 + i * 1024, 1024)));
          std::this_thread::sleep_for(1ms);
        }
      });
      const auto [idle, idle_took] = wakeups_during([&, took = took] { std::this_thread::sleep_for(took); });
      INFO("loop thread wake-ups while the body was paused: " << woke << " in "
           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms; without input: "
           << idle << " in " << std::chrono::duration_cast<std::chrono::milliseconds>(idle_took).count() << " ms");
      CHECK(woke <= idle + 20);
      on_loop(s, [&](loop_server&) { pause.parked->next(); });
      REQUIRE(!c.write(std::string_view(body).substr(1000 + 200 * 1024)));
      CHECK(c.read().body() == expected_count(body, 65536));
      CHECK(c.get("/hello").body() == "hello");  // the connection goes on as usual
      on_loop(s, [&](loop_server&) { pause.parked.reset(); });
    };

    SECTION("paused after a delivery") {
      http_client c(s.port());
      pause.bytes_seen = 0;
      REQUIRE(!c.write(post + body.substr(0, 1000)));
      REQUIRE(eventually([&] { return pause.bytes_seen.load() == 1000; }));
      paused_body_stays_quiet(c);
    }
    SECTION("paused while a response was still being written: parked once it is out") {
      // The upload is pipelined behind a 3 MB streamed response the client does not read yet,
      // so the writer is still busy when the handler pauses; then the client takes it.
      http_client c(s.port());
      pause.bytes_seen = 0;
      REQUIRE(!c.write("GET /gen?n=3000 HTTP/1.1\r\nHost: t\r\n\r\n" + post + body.substr(0, 1000)));
      REQUIRE(eventually([&] { return pause.bytes_seen.load() == 1000; }));
      CHECK(c.read().body().size() == 3000u * 1000);
      paused_body_stays_quiet(c);
    }
    SECTION("answered while parked, or parked at shutdown") {
      // Sends 1000 bytes of a 100000-byte body; the handler reads them and pauses.
      const auto start_paused_upload = [&](http_client& c, char fill) {
        pause.bytes_seen = 0;
        REQUIRE(!c.write("POST /pause HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" +
                         std::string(1000, fill)));
        REQUIRE(eventually([&] { return pause.bytes_seen.load() == 1000; }));
      };
      // The response goes out (the socket rejoins the reactor for it), then the connection
      // closes: the body was not read to its end.
      {
        http_client c(s.port());
        start_paused_upload(c, 'p');
        on_loop(s, [&](loop_server&) { pause.parked->res.send(text("early")); });
        const auto res = c.read();
        CHECK(res.body() == "early");
        CHECK_FALSE(res.keep_alive());
        on_loop(s, [&](loop_server&) { pause.parked.reset(); });
      }
      // Paused at shutdown: the shutdown timeout closes the connection, and its descriptor.
      http_client c(s.port());
      start_paused_upload(c, 'q');
      s.shutdown();
      CHECK(eventually([&] { return s.stopped(); }, 10s));
      CHECK(c.read_until_closed(5s).closed);
    }
  }
  CHECK(open_fds() == fds_before);  // no descriptor left behind by a parked socket
}

TEST_CASE("stream body: a client gone mid-body fails the read and cancels the responder",
          "[server][session][stream]") {
  pause_state pause;
  test_server s(stream_options(), [&](router& r) { add_stream_routes(r, &pause); });
  {
    http_client c(s.port());
    REQUIRE(!c.write("POST /pause HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
                     std::string(1000, 'z')));
    REQUIRE(eventually([&] { return pause.bytes_seen.load() == 1000; }));
    on_loop(s, [&](loop_server&) { pause.parked->next(); });  // a read is pending
  }  // disconnect
  CHECK(eventually([&] { return pause.cancelled.load(); }));
  CHECK(eventually([&] { return pause.read_error.load() != 0; }));
  on_loop(s, [&](loop_server&) { pause.parked.reset(); });
  http_client c(s.port());
  CHECK(c.get("/hello").body() == "hello");
}

TEST_CASE("stream body: read_into fills the caller's buffer (Content-Length: straight from the socket)",
          "[server][session][stream]") {
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  http_client c(s.port());
  const std::string body = pattern(300000);
  const auto fill_result = [&](std::string_view b, std::size_t size) {
    return std::to_string(b.size()) + " " + std::to_string(fnv1a(fnv_init, b)) + " " +
           std::to_string((b.size() + size - 1) / size);
  };
  // Content-Length, an odd buffer size, a pipelined request behind the body: the direct
  // socket reads stop at the body's end, so the next request is parsed intact.
  REQUIRE(!c.write("POST /fill?size=65543 HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n" +
                   body + "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(c.read().body() == fill_result(body, 65543));
  CHECK(c.read().body() == "hello");
  // A body that is an exact multiple of the buffer: the last fill is full, then a 0 ends it.
  const std::string exact = pattern(4 * 50000);
  REQUIRE(!c.write("POST /fill?size=50000 HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n" + exact));
  CHECK(c.read().body() == fill_result(exact, 50000));
  // A buffer larger than the body: one short fill.
  REQUIRE(!c.write("POST /fill?size=1048576 HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n" + body));
  CHECK(c.read().body() == fill_result(body, 1048576));
  // One-byte buffer, a small body.
  REQUIRE(!c.write("POST /fill?size=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 37\r\n\r\n" + body.substr(0, 37)));
  CHECK(c.read().body() == fill_result(body.substr(0, 37), 1));
  // Chunked: through the parser into the buffer.
  const std::string chunked = chunked_post("/fill?size=70000", body);
  REQUIRE(!c.write(chunked));
  CHECK(c.read().body() == fill_result(body, 70000));
  // read() first, then read_into() for the rest of the same body.
  REQUIRE(!c.write("POST /fill-mixed?size=100000 HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n" + body));
  const auto mixed = c.read().body();
  CHECK(mixed.substr(0, mixed.rfind(' ')) == fill_result(body, 1).substr(0, fill_result(body, 1).rfind(' ')));
  // read() after read_into() has switched to direct socket reads.
  REQUIRE(!c.write("POST /fill-then-read?size=100000 HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n" + body));
  CHECK(c.read().body() == fill_result(body, 1).substr(0, fill_result(body, 1).rfind(' ')) + " 1");
  // No body: the end at once.
  CHECK(c.request(http::verb::post, "/fill").body() == "0 " + std::to_string(fnv_init) + " 0");
  // Limits apply as to read(): a declared length over the route's 413s before the handler.
  http_client small(s.port());
  REQUIRE(!small.write("POST /fill-small HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n"));
  CHECK(small.read().result_int() == 413);
}

TEST_CASE("stream body: a body that ends with a full fill ends only at the next read_into",
          "[server][session][stream]") {
  // The last fill is exactly full; the handler takes 50 ms before asking again. A pipelined
  // streamed request behind the body must wait for that read to report the end, not start
  // (and abort the first body's reader) meanwhile.
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  http_client c(s.port());
  const std::string exact = pattern(4 * 50000);
  REQUIRE(!c.write("POST /fill-slow?size=50000 HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n" +
                   exact + "POST /fill?size=1000 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  CHECK(c.read().body() == std::to_string(exact.size()) + " " + std::to_string(fnv1a(fnv_init, exact)) + " 4");
  CHECK(c.read().body() == "5 " + std::to_string(fnv1a(fnv_init, "hello")) + " 1");
}

TEST_CASE("stream body: read_into with 100-continue, and a large body in large reads",
          "[server][session][stream]") {
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  const std::string file = "/tmp/nodus_fill_test_" + std::to_string(::getpid()) + ".bin";
  const std::string data = pattern(24u << 20);
  std::ofstream(file, std::ios::binary) << data;
  const auto r = curl("-o - --max-time 30 --expect100-timeout 30 --data-binary @" + file + " " +
                      url(s.port(), "/fill?size=1048576"));
  std::remove(file.c_str());
  CHECK(r.out == std::to_string(data.size()) + " " + std::to_string(fnv1a(fnv_init, data)) + " 24");
}

TEST_CASE("stream body: a client gone while a direct read fills the buffer",
          "[server][session][stream]") {
  struct parked_state {
    std::shared_ptr<body_filler> filler;
    std::atomic<bool> cancelled{false};
    std::atomic<int> read_error{0};
    std::atomic<std::uint64_t> bytes{0};
  } parked;
  test_server s(stream_options(), [&](router& r) {
    add_stream_routes(r);
    r.add("/fill-park", {http::verb::post}, [&parked](request&, const request_context& ctx, responder res) {
      auto f = make_filler(ctx, std::move(res), 1u << 20);
      f->res.on_cancel([&parked] { parked.cancelled = true; });
      f->on_error = [&parked](boost::system::error_code ec) { parked.read_error = ec.value(); };
      f->on_fill = [&parked, f = f.get()] { parked.bytes = f->bytes; };
      parked.filler = f;
      f->next();
    }, {body_mode::streamed, 64u << 20});
  });
  {
    http_client c(s.port());
    // 1000 bytes of a 1 MB body: the direct read into the 1 MiB buffer stays outstanding.
    REQUIRE(!c.write("POST /fill-park HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
                     std::string(1000, 'z')));
    std::this_thread::sleep_for(100ms);
  }  // disconnect
  CHECK(eventually([&] { return parked.cancelled.load(); }));
  CHECK(eventually([&] { return parked.read_error.load() != 0; }));
  CHECK(parked.bytes.load() == 0);  // the buffer never filled: no partial fill was delivered
  on_loop(s, [&](loop_server&) { parked.filler.reset(); });
  http_client c(s.port());
  CHECK(c.get("/hello").body() == "hello");
}

TEST_CASE("stream body: answering while a direct read fills the buffer",
          "[server][session][stream]") {
  // The handler answers after 100 ms with its 1 MiB read_into still outstanding: the response
  // goes out, the connection closes after it, and the fill fails only once the socket read
  // has returned (its buffer, owned by the handler's state, stays alive until then).
  struct answer_state {
    std::atomic<int> read_error{0};
  } st;
  test_server s(stream_options(), [&](router& r) {
    add_stream_routes(r);
    r.add("/fill-answer", {http::verb::post}, [&st](request&, const request_context& ctx, responder res) {
      auto f = make_filler(ctx, std::move(res), 1u << 20);
      f->on_error = [&st](boost::system::error_code ec) { st.read_error = ec.value(); };
      f->next();
      ctx.loop.set_timeout([f] { f->res.send(text("early")); }, 100);
    }, {body_mode::streamed, 64u << 20});
  });
  {
    http_client c(s.port());
    REQUIRE(!c.write("POST /fill-answer HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
                     std::string(1000, 'z')));
    const auto res = c.read();
    CHECK(res.result_int() == 200);
    CHECK(res.body() == "early");
    CHECK_FALSE(res.keep_alive());
  }  // the client goes: the outstanding read returns, the fill fails
  CHECK(eventually([&] { return st.read_error.load() != 0; }));
  http_client d(s.port());
  CHECK(d.get("/hello").body() == "hello");
}

TEST_CASE("stream response: chunked generator, then the queue resumes", "[server][session][stream]") {
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  http_client c(s.port());
  REQUIRE(!c.write("GET /gen?n=30 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                   "HEAD /gen?n=5 HTTP/1.1\r\nHost: t\r\n\r\nGET /gen?n=0 HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto gen = c.read();
  CHECK(gen[http::field::transfer_encoding] == "chunked");
  std::string expected;
  for (int i = 0; i < 30; ++i) expected += std::string(1000, static_cast<char>('a' + i % 26));
  CHECK(gen.body() == expected);
  CHECK(c.read().body() == "hello");
  const auto head = c.read(true);
  CHECK(head.result_int() == 200);
  CHECK(head.body().empty());
  CHECK(c.read().body().empty());  // zero chunks: just the last chunk
  CHECK(c.get("/hello").body() == "hello");
}

TEST_CASE("stream response: a sendfile body, a short file closes the connection",
          "[server][session][stream]") {
  test_server s(stream_options(), [](router& r) { add_stream_routes(r); });
  const std::string file = "/tmp/nodus_stream_file_" + std::to_string(::getpid()) + ".bin";
  const std::string data = pattern(3u << 20);
  std::ofstream(file, std::ios::binary) << data;
  http_client c(s.port());
  REQUIRE(!c.write("GET /file?path=" + file + "&extra=0 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(c.read().body() == data);
  CHECK(c.read().body() == "hello");

  http_client short_file(s.port());
  REQUIRE(!short_file.write("GET /file?path=" + file + "&extra=10 HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto rest = short_file.read_until_closed(10s);
  CHECK(rest.closed);
  CHECK(rest.data.size() < data.size() + 10 + 1000);  // header + the bytes the file had
  std::remove(file.c_str());
  CHECK(c.get("/hello").body() == "hello");  // the server keeps serving
}
