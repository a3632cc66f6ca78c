#pragma once
// Test clients: a Beast HTTP/1.1 client over one TCP connection whose every operation has a
// deadline (async under the hood, so a misbehaving server fails the test instead of hanging
// it), and a curl runner. Header-only; link nodus::asio.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/nodus_process.hpp"

namespace nodus::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using http_response = http::response<http::string_body>;
using header_list = std::vector<std::pair<std::string, std::string>>;

class http_client {
 public:
  explicit http_client(std::uint16_t port, std::string_view host = "127.0.0.1")
      : socket_(io_) {
    const tcp::endpoint ep(net::ip::make_address(host), port);
    const error_code ec = run([&](auto done) { socket_.async_connect(ep, [done](error_code e) mutable { done(e, 0); }); },
                              default_wait);
    if (ec) throw std::runtime_error("connect: " + ec.message());
    socket_.set_option(tcp::no_delay(true));
  }

  // Writes all of `bytes`.
  error_code write(std::string_view bytes, std::chrono::milliseconds timeout = default_wait) {
    return run([&](auto done) { net::async_write(socket_, net::buffer(bytes.data(), bytes.size()), done); },
               timeout);
  }

  // Reads one response (for a response to HEAD pass head = true: it has no body).
  error_code read(http_response& res, bool head = false,
                  std::chrono::milliseconds timeout = default_wait) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    parser.skip(head);
    const error_code ec = run([&](auto done) { http::async_read(socket_, buffer_, parser, done); }, timeout);
    if (!ec) res = parser.release();
    return ec;
  }

  http_response read(bool head = false, std::chrono::milliseconds timeout = default_wait) {
    http_response res;
    if (const error_code ec = read(res, head, timeout)) {
      throw std::runtime_error("read response: " + ec.message());
    }
    return res;
  }

  // Sends one request (Beast serializer) and reads its response.
  http_response request(http::verb method, std::string_view target, std::string body = {},
                        const header_list& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    if (!req.body().empty() || method == http::verb::post || method == http::verb::put) {
      req.prepare_payload();
    }
    const error_code ec = run([&](auto done) { http::async_write(socket_, req, done); }, default_wait);
    if (ec) throw std::runtime_error("write request: " + ec.message());
    return read(method == http::verb::head);
  }

  http_response get(std::string_view target) { return request(http::verb::get, target); }

  struct drain_result {
    std::string data;   // bytes received (after any already-parsed response)
    bool closed = false;  // the server closed the connection (EOF or reset) within the timeout
    error_code ec;
  };
  // Reads until the server closes the connection or `timeout` passes.
  drain_result read_until_closed(std::chrono::milliseconds timeout = default_wait) {
    drain_result r;
    const auto data = buffer_.cdata();
    r.data.assign(static_cast<const char*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char chunk[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds::zero()) return r;
      std::size_t n = 0;
      r.ec = run([&](auto done) {
        socket_.async_read_some(net::buffer(chunk), [&n, done](error_code e, std::size_t got) mutable {
          n = got;
          done(e, got);
        });
      }, left);
      r.data.append(chunk, n);
      if (r.ec == net::error::timed_out) return r;
      if (r.ec) {
        r.closed = true;
        return r;
      }
    }
  }

  tcp::socket& socket() noexcept { return socket_; }
  beast::flat_buffer& buffer() noexcept { return buffer_; }

 private:
  // Starts an async operation with `start(handler)` and runs it to completion or timeout.
  template <class Start>
  error_code run(Start&& start, std::chrono::milliseconds timeout) {
    std::optional<error_code> result;
    start([&result](error_code ec, std::size_t) { result = ec; });
    io_.restart();
    io_.run_for(timeout);
    if (!result) {
      error_code ignored;
      socket_.cancel(ignored);
      io_.restart();
      io_.run();
      return net::error::timed_out;
    }
    return *result;
  }

  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

struct command_result {
  int exit_code = -1;
  std::string out;  // stdout (stderr too when the command redirects it)
};

// Runs a shell command and collects its stdout.
inline command_result run_command(const std::string& command) {
  command_result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// curl with a bounded run time; `args` are appended as given (quote them yourself).
inline command_result curl(const std::string& args) {
  return run_command("/usr/bin/curl -sS --max-time 30 " + args + " 2>&1");
}

inline std::string url(std::uint16_t port, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

}  // namespace nodus::testing
