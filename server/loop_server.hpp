#pragma once
// loop_server: the HTTP server of one event loop — its acceptor, its connections, its Date
// cache and counters, and its part of graceful shutdown. One per loop thread; every method
// runs on that thread (app/ reaches it from elsewhere through event_loop::post).
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/system/error_code.hpp>

#include <string>

#include "runtime/loop/event_loop.hpp"
#include "server/date_cache.hpp"
#include "server/http_session.hpp"
#include "server/listener.hpp"
#include "server/options.hpp"
#include "server/request_stats.hpp"
#include "server/router.hpp"
#include "server/server_stats.hpp"

namespace nodus::server {

class http_session;

// "nodus/<version>"
const std::string& server_header();

class loop_server {
 public:
  // `routes` and `options` are shared by all loops and must outlive this object.
  loop_server(runtime::loop::event_loop& loop, const router& routes,
              const server_options& options);
  ~loop_server();
  loop_server(const loop_server&) = delete;
  loop_server& operator=(const loop_server&) = delete;

  // See listener::listen.
  boost::system::error_code listen(const boost::asio::ip::tcp::endpoint& endpoint,
                                   bool exclusive);
  boost::asio::ip::tcp::endpoint local_endpoint() const { return listener_.local_endpoint(); }
  void start();

  // Graceful shutdown: stop accepting, close idle connections, let in-flight requests
  // finish (their last response says Connection: close), force-close what is left after
  // options.shutdown_timeout. When the last connection is gone the loop is stopped, so
  // event_loop::run() returns.
  void begin_shutdown();
  // Closes every connection now (a second signal).
  void force_close();

  runtime::loop::event_loop& loop() noexcept { return loop_; }
  const router& routes() const noexcept { return routes_; }
  const server_options& options() const noexcept { return options_; }
  date_cache& dates() noexcept { return dates_; }
  loop_server_stats& stats() noexcept { return stats_; }
  // Completed responses by route/method/status, and their durations (http_* metrics).
  request_stats& requests() noexcept { return requests_; }
  bool draining() const noexcept { return draining_; }

  // Called by http_session when it opens / closes its socket.
  void attach(http_session& session) noexcept;
  void detach(http_session& session) noexcept;

 private:
  void on_connection(boost::asio::ip::tcp::socket socket);
  void maybe_finish();

  using session_list = boost::intrusive::list<http_session, boost::intrusive::constant_time_size<false>>;

  runtime::loop::event_loop& loop_;
  const router& routes_;
  const server_options& options_;
  listener listener_;
  date_cache dates_;
  loop_server_stats stats_;
  request_stats requests_;
  session_list sessions_;
  boost::asio::steady_timer shutdown_timer_;
  bool draining_ = false;
  bool finished_ = false;
};

}  // namespace nodus::server
