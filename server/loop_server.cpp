#include "server/loop_server.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

namespace nodus::server {

namespace net = boost::asio;

const std::string& server_header() {
  static const std::string value = std::string("nodus/") + NODUS_VERSION;
  return value;
}

loop_server::loop_server(runtime::loop::event_loop& loop, const router& routes,
                         const server_options& options)
    : loop_(loop),
      routes_(routes),
      options_(options),
      listener_(loop, [this](net::ip::tcp::socket s) { on_connection(std::move(s)); }),
      requests_(routes.route_count()),
      shutdown_timer_(loop.io()) {
  stats_.loop_index = loop.index();
}

loop_server::~loop_server() {
  force_close();
  listener_.close();
}

boost::system::error_code loop_server::listen(const net::ip::tcp::endpoint& endpoint,
                                              bool exclusive) {
  return listener_.listen(endpoint, exclusive);
}

void loop_server::start() { listener_.start(); }

void loop_server::on_connection(net::ip::tcp::socket socket) {
  if (draining_) return;  // the socket closes as it goes out of scope
  ++stats_.connections_accepted;
  std::make_shared<http_session>(std::move(socket), *this)->start();
}

void loop_server::attach(http_session& session) noexcept {
  sessions_.push_back(session);
  ++stats_.connections_active;
}

void loop_server::detach(http_session& session) noexcept {
  if (session.is_linked()) {
    session.unlink();
    --stats_.connections_active;
  }
  maybe_finish();
}

void loop_server::begin_shutdown() {
  if (draining_) return;
  draining_ = true;
  listener_.close();
  shutdown_timer_.expires_after(options_.shutdown_timeout);
  shutdown_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    if (!sessions_.empty()) {
      spdlog::warn("loop {}: shutdown timeout, closing {} connection(s)", loop_.index(),
                   stats_.connections_active);
    }
    force_close();
  });
  // Sessions unlink themselves while closing: work on a snapshot.
  std::vector<std::shared_ptr<http_session>> snapshot;
  for (http_session& s : sessions_) snapshot.push_back(s.shared_from_this());
  for (auto& s : snapshot) s->shutdown_gracefully();
  maybe_finish();
}

void loop_server::force_close() {
  std::vector<std::shared_ptr<http_session>> snapshot;
  for (http_session& s : sessions_) snapshot.push_back(s.shared_from_this());
  for (auto& s : snapshot) s->close();
}

void loop_server::maybe_finish() {
  if (!draining_ || finished_ || !sessions_.empty()) return;
  finished_ = true;
  shutdown_timer_.cancel();
  loop_.stop();
}

}  // namespace nodus::server
