#include "server/listener.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

namespace nodus::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

listener::listener(runtime::loop::event_loop& loop, connection_handler on_connection)
    : loop_(loop),
      acceptor_(loop.io()),
      retry_timer_(loop.io()),
      on_connection_(std::move(on_connection)) {}

boost::system::error_code listener::listen(const tcp::endpoint& endpoint, bool exclusive) {
  boost::system::error_code ec;
  if (exclusive && endpoint.port() != 0) {
    // A socket without SO_REUSEPORT cannot bind where anyone listens.
    tcp::acceptor probe(loop_.io());
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec) return ec;
    probe.close(ec);
  }
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return ec;
  acceptor_.set_option(reuse_port(true), ec);
  if (ec) return ec;
  acceptor_.bind(endpoint, ec);
  if (ec) return ec;
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  return {};
}

tcp::endpoint listener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void listener::start() {
  handle_ = loop_.track_handle("TCPServerWrap");
  do_accept();
}

void listener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
  handle_.reset();
}

void listener::do_accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (!acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors or memory: retrying at once would spin; pause accepting briefly.
    spdlog::warn("accept on loop {}: {}", loop_.index(), ec.message());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) do_accept();
    });
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  on_connection_(std::move(socket));
  do_accept();
}

}  // namespace nodus::server
