#pragma once
// A loop_server on its own loop thread with test routes, for session tests over a real
// socket. Header-only; link nodus::server.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "runtime/loop/event_loop.hpp"
#include "server/loop_server.hpp"
#include "tests/integration/http_client.hpp"

namespace nodus::testing {

using nodus::runtime::loop::event_loop;
using nodus::server::loop_server;
using nodus::server::router;
using nodus::server::server_options;

// A loop_server on 127.0.0.1:0 running on its own loop thread.
class test_server {
 public:
  test_server(server_options options, const std::function<void(router&)>& add_routes)
      : options_(std::move(options)) {
    add_routes(routes_);
    std::promise<std::uint16_t> bound;
    auto port = bound.get_future();
    thread_ = std::thread([this, &bound] {
      event_loop loop(nodus::runtime::loop::system_clock(), 0);
      loop_server srv(loop, routes_, options_);
      const auto ec = srv.listen({net::ip::make_address("127.0.0.1"), 0}, true);
      {
        std::lock_guard lock(mutex_);
        loop_ = &loop;
        server_ = &srv;
      }
      bound.set_value(ec ? 0 : srv.local_endpoint().port());
      if (!ec) {
        srv.start();
        loop.run();
      }
      std::lock_guard lock(mutex_);
      loop_ = nullptr;
      server_ = nullptr;
    });
    port_ = port.get();
    REQUIRE(port_ != 0);
  }

  ~test_server() {
    shutdown();
    thread_.join();
  }

  std::uint16_t port() const noexcept { return port_; }

  void shutdown() {
    post([](loop_server& s) { s.begin_shutdown(); });
  }
  // True once the loop thread's run() returned.
  bool stopped() {
    std::lock_guard lock(mutex_);
    return loop_ == nullptr;
  }
  void post(std::function<void(loop_server&)> fn) {
    std::lock_guard lock(mutex_);
    if (loop_ != nullptr) loop_->post([srv = server_, fn] { fn(*srv); });
  }

 private:
  server_options options_;
  router routes_;
  std::thread thread_;
  std::mutex mutex_;
  event_loop* loop_ = nullptr;
  loop_server* server_ = nullptr;
  std::uint16_t port_ = 0;
};

// Runs `fn` on the server's loop thread and waits for it.
template <class Fn>
void on_loop(test_server& s, Fn fn) {
  std::promise<void> done;
  s.post([&](loop_server& srv) {
    fn(srv);
    done.set_value();
  });
  done.get_future().get();
}

inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = default_wait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace nodus::testing
