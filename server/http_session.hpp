#pragma once
// http_session: one HTTP/1.1 connection (Beast parser and serializer over a TCP socket).
//
// Reading: a request is parsed header first (request_parser<empty_body>); the route and the
// limits are checked before any body byte is read (404/405/413/414/417/431 and
// 100-continue are decided there); then the body, if any, is parsed into a string_body.
// Several requests may be in flight (pipelining): each gets an `exchange` in an in-order
// queue of at most --max-pipeline entries; reading pauses while the queue is full.
//
// Writing: responses leave in request order; the ready ones at the head of the queue go out
// in one gathered write.
//
// Time: one lazily re-armed timer per connection enforces the idle timeout (no byte of a
// next request), the request timeout (whole request, from its first byte; 408 then close),
// the write timeout and the linger deadline — no timer operation per request on the hot path.
//
// Loop thread only. Lifetime: shared_ptr, held by pending I/O and by responders; a closed
// session ignores late responders.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/loop/event_loop.hpp"
#include "server/handler.hpp"
#include "server/responder.hpp"

namespace nodus::server {

class loop_server;
struct route;

class http_session final
    : public detail::exchange_sink,
      public std::enable_shared_from_this<http_session>,
      public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  http_session(boost::asio::ip::tcp::socket socket, loop_server& owner);
  ~http_session() override;

  void start();
  // Stop taking requests; close once the in-flight ones are answered (now, if none).
  void shutdown_gracefully();
  void close() { do_close(); }

  // detail::exchange_sink (what responders call)
  void complete(std::uint64_t seq, response&& res) override;
  void abandon(std::uint64_t seq) override;
  bool alive(std::uint64_t seq) const noexcept override;
  void set_cancel(std::uint64_t seq, std::function<void()> cb) override;

 private:
  using time_point = runtime::loop::time_point;
  struct exchange;
  enum class phase : std::uint8_t {
    idle,           // between requests
    header,         // reading a request header
    continue_wait,  // header read, "100 Continue" queued
    body,           // reading a request body
  };

  // reading
  void do_read();
  void do_read_once();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void begin_request();
  void parse();
  void on_header();
  void on_body();
  void on_parse_error(boost::system::error_code ec);
  void on_peer_eof();
  void dispatch(exchange& x);
  void reject(exchange* x, http::status status, std::string_view error, std::string_view detail,
              std::string_view allow = {}, bool keep_connection = false);
  void stop_reading_requests();

  // writing
  void finish(exchange& x, response&& res);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void do_write_continue();
  void on_write_continue(boost::system::error_code ec, std::size_t bytes);
  void gather(exchange& x);

  // closing
  void do_graceful_close();
  void do_linger();
  void do_close();
  void fail(boost::system::error_code ec, const char* what);
  void cancel_pending();

  // timeouts
  void watch(time_point deadline);
  void on_watch(boost::system::error_code ec);
  void enter_idle();

  // the in-order queue
  exchange& push_exchange();
  void pop_exchange() noexcept;
  exchange* find(std::uint64_t seq) const noexcept;
  exchange& at(std::size_t i) const noexcept;  // i-th from the head
  exchange& back() const noexcept { return at(count_ - 1); }

  loop_server& owner_;
  runtime::loop::event_loop& loop_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::endpoint remote_;
  boost::beast::flat_buffer buffer_;
  runtime::loop::active_token handle_;

  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> body_parser_;
  phase phase_ = phase::idle;
  bool reading_ = false;           // a read is outstanding
  bool writing_ = false;           // a write is outstanding
  bool accepting_requests_ = true; // false: finish what is in flight, then close
  bool lingering_ = false;         // final response sent; discarding input until EOF
  bool closed_ = false;
  bool in_do_read_ = false;        // do_read() is on the stack
  bool read_again_ = false;        // a nested do_read() asked for another pass

  std::vector<std::unique_ptr<exchange>> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint64_t head_seq_ = 1;  // seq of the exchange at head_; seqs are never reused
  std::size_t batch_ = 0;       // exchanges in the outstanding write

  // The outstanding write: small pieces are copied into out_ so that one write carries many
  // pipelined responses; large ones (bodies) are referenced where they are.
  struct piece {
    const void* ref;  // nullptr: the bytes are in out_ at `offset`
    std::size_t offset;
    std::size_t size;
  };
  std::string out_;
  std::vector<piece> pieces_;
  std::vector<boost::asio::const_buffer> write_buffers_;

  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  time_point timer_expiry_{};
  time_point idle_since_{};
  time_point request_start_{};
  time_point write_start_{};
  time_point linger_deadline_{};
};

}  // namespace nodus::server
