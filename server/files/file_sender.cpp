#include "server/files/file_sender.hpp"

#include <sys/sendfile.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cerrno>

namespace nodus::server::files {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

class file_send_op : public std::enable_shared_from_this<file_send_op> {
 public:
  file_send_op(asio::ip::tcp::socket& socket, unique_fd file, std::uint64_t offset,
               std::uint64_t length, const file_send_options& options, file_send_handler done)
      : socket_(socket),
        timer_(socket.get_executor()),
        file_(std::move(file)),
        offset_(static_cast<off_t>(offset)),
        remaining_(length),
        options_(options),
        done_(std::move(done)) {}

  void start() {
    error_code ec;
    socket_.native_non_blocking(true, ec);
    if (ec) return finish(ec);
    send_chunk();
  }

 private:
  // One sendfile call of at most chunk_bytes, then back to the loop before the next (fairness
  // between connections on this loop). Only EAGAIN waits for writability: with Asio's
  // edge-triggered epoll, a wait on a socket that is already writable may never complete.
  void send_chunk() {
    if (remaining_ == 0) return finish({});
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, options_.chunk_bytes));
    const ssize_t n = ::sendfile(socket_.native_handle(), file_.get(), &offset_, want);
    if (n > 0) {
      remaining_ -= static_cast<std::uint64_t>(n);
      sent_ += static_cast<std::uint64_t>(n);
      if (remaining_ == 0) return finish({});
      return asio::post(socket_.get_executor(), [self = shared_from_this()] {
        if (!self->socket_.is_open()) return self->finish(asio::error::operation_aborted);
        self->send_chunk();
      });
    }
    if (n == 0) return finish(asio::error::eof);  // the file shrank under us
    if (errno == EAGAIN || errno == EINTR) return wait_writable();
    finish(error_code(errno, boost::system::system_category()));
  }

  void wait_writable() {
    timer_.expires_after(options_.stall_timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->timed_out_ = true;
      error_code ignored;  // closed meanwhile (the session closed it): nothing to cancel
      self->socket_.cancel(ignored);
    });
    socket_.async_wait(asio::socket_base::wait_write,
                       [self = shared_from_this()](error_code ec) { self->on_writable(ec); });
  }

  void on_writable(error_code ec) {
    timer_.cancel();
    if (timed_out_) return finish(asio::error::timed_out);
    if (ec) return finish(ec);
    send_chunk();
  }

  void finish(error_code ec) {
    if (auto done = std::move(done_)) done(ec, sent_);
  }

  asio::ip::tcp::socket& socket_;
  asio::steady_timer timer_;
  unique_fd file_;
  off_t offset_;
  std::uint64_t remaining_;
  std::uint64_t sent_ = 0;
  file_send_options options_;
  file_send_handler done_;
  bool timed_out_ = false;
};

}  // namespace

void async_send_file(asio::ip::tcp::socket& socket, unique_fd file, std::uint64_t offset,
                     std::uint64_t length, const file_send_options& options,
                     file_send_handler done) {
  std::make_shared<file_send_op>(socket, std::move(file), offset, length, options,
                                 std::move(done))
      ->start();
}

}  // namespace nodus::server::files
