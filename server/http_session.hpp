#pragma once
// http_session: one HTTP/1.1 connection (Beast parser and serializer over a TCP socket).
//
// Reading: a request is parsed header first (request_parser<empty_body>); the route and the
// limits are checked before any body byte is read (404/405/413/414/417/431 and
// 100-continue are decided there); then the body, if any, is parsed into a string_body
// (body_mode::buffered), or handed to the handler as a pull-style body_reader
// (body_mode::streamed, server/body_reader.hpp): a request_parser<buffer_body> fills one
// 64 KiB chunk buffer per read() and the socket is read only while a read() is pending, so
// an upload is paced by its handler. Several requests may be in flight (pipelining): each
// gets an `exchange` in an in-order queue of at most --max-pipeline entries; reading pauses
// while the queue is full and while a streamed body is not consumed.
//
// Writing: responses leave in request order; the ready ones at the head of the queue go out
// in one gathered write. A streamed response (responder::send(header, body_writer)) ends a
// gathered write: once its header is written the socket belongs to the body_writer (which
// paces itself by the socket's writability) until it calls back; then the queue resumes,
// or on error the connection closes.
//
// Time: one lazily re-armed timer per connection enforces the idle timeout (no byte of a
// next request), the request timeout (from a request's first byte to the end of its header,
// and of its body when buffered; 408 then close), the progress timeout of a streamed body's
// socket reads (same budget per read), the write timeout (one gathered write; streamed
// bodies use their writer's stall timeout) and the linger deadline — no timer operation per
// request on the hot path.
//
// Loop thread only. Lifetime: shared_ptr, held by pending I/O and by responders; a closed
// session ignores late responders.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/loop/event_loop.hpp"
#include "server/body_reader.hpp"
#include "server/body_writer.hpp"
#include "server/files/path_resolver.hpp"
#include "server/handler.hpp"
#include "server/responder.hpp"

namespace nodus::server {

class loop_server;
struct route;

class http_session final
    : public detail::exchange_sink,
      public detail::body_source,
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
  void complete_streamed(std::uint64_t seq, response_header&& header,
                         std::unique_ptr<body_writer> body) override;
  // detail::body_source (what body readers call)
  void read_body(std::uint64_t seq, body_reader::read_handler done) override;
  void read_body_into(std::uint64_t seq, std::span<char> dst, body_reader::fill_handler done) override;

 private:
  using time_point = runtime::loop::time_point;
  struct exchange;
  enum class phase : std::uint8_t {
    idle,           // between requests
    header,         // reading a request header
    continue_wait,  // header read, "100 Continue" queued
    body,           // reading a request body
    stream,         // a streamed body, read when its handler asks
  };

  // reading
  void do_read();
  void do_read_once();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  bool request_buffered();
  void begin_request();
  void parse();
  void on_header();
  void on_body();
  void on_parse_error(boost::system::error_code ec);
  boost::system::error_code stalled_framing();
  // Drops n bytes from the front of buffer_; every consumer of buffer_ goes through it.
  void consume(std::size_t n);
  void reject_framing_line(exchange* x);
  void on_peer_eof();
  void dispatch(exchange& x, body_reader* body = nullptr);
  std::uint64_t body_limit(const route& r) const noexcept;
  void start_stream(exchange& x, bool has_body, bool want_continue, std::uint64_t limit);
  std::optional<boost::system::error_code> refuse_body_read(std::uint64_t seq);
  void start_body_read();
  void pump_body();
  void pump_direct();
  void on_direct_read(boost::system::error_code ec, std::size_t bytes);
  std::span<char> body_target() noexcept;
  bool take_body_bytes(std::size_t n);
  void end_of_body();
  void deliver_body(boost::system::error_code ec, std::string_view chunk);
  void deliver_fill(boost::system::error_code ec);
  void quiet_if_paused();
  boost::asio::ip::tcp::socket& io_socket();  // the socket, back in the reactor if parked
  bool stream_pending() const noexcept { return stream_read_ || stream_fill_; }
  void on_stream_error(boost::system::error_code ec);
  void abort_stream(boost::system::error_code ec);
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
  bool retire_head(std::chrono::steady_clock::time_point written);
  void resume_after_write();
  void start_body_write(exchange& x);
  void on_body_written(boost::system::error_code ec, std::uint64_t bytes);

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
  std::size_t framing_checked_ = 0;  // buffer_'s first bytes stalled_framing() found no bare LF in
  runtime::loop::active_token handle_;

  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> body_parser_;

  // The streamed request body (phase::stream): at most one per connection, the last exchange.
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  std::unique_ptr<char[]> stream_chunk_;   // the chunk buffer handed to read() callbacks
  body_reader::read_handler stream_read_;  // the pending read()
  body_reader::fill_handler stream_fill_;  // or the pending read_into(), filling stream_dst_
  std::span<char> stream_dst_;
  std::size_t stream_filled_ = 0;
  // A Content-Length body taken by read_into() is read from the socket straight into the
  // caller's buffer, bypassing the parser, once nothing of it is left in buffer_.
  bool stream_direct_ = false;
  std::uint64_t stream_direct_left_ = 0;   // body bytes still to come (direct mode)
  bool direct_reading_ = false;            // a socket read into stream_dst_ is outstanding
  std::uint64_t stream_seq_ = 0;           // the exchange whose body it is
  boost::system::error_code stream_ec_;    // sticky: every later read() gets it
  bool stream_end_ = false;                // the body was read to its end
  bool continue_wanted_ = false;           // "Expect: 100-continue", not yet asked for
  bool continue_pending_ = false;          // asked for by read(): the 100 goes out next
  time_point stream_wait_start_{};         // when the outstanding body read started
  // A paused body's socket, out of the reactor (quiet_if_paused); empty: socket_ holds it.
  files::unique_fd parked_;
  std::optional<boost::asio::ip::tcp> protocol_;  // socket_'s, for assign(); known once parked

  // The streamed response body being written (the socket is the writer's meanwhile).
  std::unique_ptr<body_writer> body_writer_;
  bool streaming_ = false;
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
  time_point idle_since_{};  // {} while a request is under way
  time_point request_start_{};
  time_point write_start_{};
  time_point linger_deadline_{};
};

}  // namespace nodus::server
