#pragma once
// listener: one loop's acceptor on the shared port (SO_REUSEPORT: the kernel spreads new
// connections over the loops' acceptors). Loop thread only, except listen() which may run
// before the loop does.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <functional>

#include "runtime/loop/event_loop.hpp"

namespace nodus::server {

class listener {
 public:
  using connection_handler = std::function<void(boost::asio::ip::tcp::socket)>;

  listener(runtime::loop::event_loop& loop, connection_handler on_connection);

  // Binds and listens. With `exclusive`, first checks that no other socket (another process
  // with SO_REUSEPORT included) listens on the port, so "port in use" is reported instead of
  // silently sharing it; the loops after the first join with exclusive = false.
  boost::system::error_code listen(const boost::asio::ip::tcp::endpoint& endpoint,
                                   bool exclusive);
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  void start();  // accept until close()
  void close();  // stop accepting; releases the "TCPServerWrap" handle
  bool is_open() const noexcept { return acceptor_.is_open(); }

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  runtime::loop::event_loop& loop_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;  // backs off after EMFILE and friends
  runtime::loop::active_token handle_;
  connection_handler on_connection_;
};

}  // namespace nodus::server
