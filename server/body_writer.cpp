#include "server/body_writer.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>

namespace nodus::server {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

file_body_writer::file_body_writer(files::unique_fd file, std::uint64_t offset,
                                   std::uint64_t length, files::file_send_options options,
                                   body_observer observer)
    : file_(std::move(file)),
      offset_(offset),
      length_(length),
      options_(options),
      observer_(std::move(observer)) {}

void file_body_writer::async_write(net::ip::tcp::socket& socket, done_handler done) {
  files::async_send_file(socket, std::move(file_), offset_, length_, options_,
                         [observer = std::move(observer_), done = std::move(done)](
                             error_code ec, std::uint64_t sent) {
                           if (observer) observer(ec, sent);
                           done(ec, sent);
                         });
}

// One chunk in flight at a time; the stall timer cancels the socket when a write makes no
// progress (a reader that stopped reading), which completes the write with an error.
struct chunked_body_writer::op : std::enable_shared_from_this<op> {
  op(net::ip::tcp::socket& s, generator g, std::chrono::milliseconds stall, body_observer obs,
     done_handler d)
      : socket(s), timer(s.get_executor()), next(std::move(g)), stall_timeout(stall),
        observer(std::move(obs)), done(std::move(d)) {}

  void write_next() {
    do {  // an empty chunk would mean the end of the body: skip it
      chunk.clear();
      last = !next(chunk);
    } while (!last && chunk.empty());
    arm();
    auto on_written = [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_write(ec);
    };
    if (last) return net::async_write(socket, http::make_chunk_last(), std::move(on_written));
    net::async_write(socket, http::make_chunk(net::buffer(chunk)), std::move(on_written));
  }

  void arm() {
    timer.expires_after(stall_timeout);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->timed_out = true;
      error_code ignored;
      self->socket.cancel(ignored);
    });
  }

  void on_write(error_code ec) {
    timer.cancel();
    if (timed_out) ec = net::error::timed_out;
    if (ec) return finish(ec);
    if (last) return finish({});
    bytes += chunk.size();
    write_next();
  }

  void finish(error_code ec) {
    if (observer) observer(ec, bytes);
    if (auto d = std::move(done)) d(ec, bytes);
  }

  net::ip::tcp::socket& socket;
  net::steady_timer timer;
  generator next;
  std::chrono::milliseconds stall_timeout;
  body_observer observer;
  done_handler done;
  std::string chunk;
  std::uint64_t bytes = 0;
  bool last = false;
  bool timed_out = false;
};

chunked_body_writer::chunked_body_writer(generator next, std::chrono::milliseconds stall_timeout,
                                         body_observer observer)
    : next_(std::move(next)), stall_timeout_(stall_timeout), observer_(std::move(observer)) {}

void chunked_body_writer::async_write(net::ip::tcp::socket& socket, done_handler done) {
  std::make_shared<op>(socket, std::move(next_), stall_timeout_, std::move(observer_),
                       std::move(done))
      ->write_next();
}

}  // namespace nodus::server
