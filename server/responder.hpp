#pragma once
// responder: the one-shot answer to one request. Move-only; loop thread only.
//
// send() queues the response in the connection's in-order pipeline; responses leave in
// request order whatever order handlers finish in. If the connection is gone, send() is a
// harmless no-op. A responder destroyed without send() answers 500, so a request is never
// left hanging by a handler bug.
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace nodus::server {

using response = boost::beast::http::response<boost::beast::http::string_body>;
using response_header = boost::beast::http::response_header<>;
class body_writer;  // server/body_writer.hpp

namespace detail {
// Implemented by the connection that owns the exchange. Called on its loop thread only.
class exchange_sink {
 public:
  virtual ~exchange_sink() = default;
  virtual void complete(std::uint64_t seq, response&& res) = 0;
  virtual void complete_streamed(std::uint64_t seq, response_header&& header,
                                 std::unique_ptr<body_writer> body) = 0;
  virtual void abandon(std::uint64_t seq) = 0;  // the responder died unused
  virtual bool alive(std::uint64_t seq) const noexcept = 0;
  virtual void set_cancel(std::uint64_t seq, std::function<void()> cb) = 0;
};
}  // namespace detail

class responder {
 public:
  responder() = default;
  responder(std::shared_ptr<detail::exchange_sink> sink, std::uint64_t seq) noexcept
      : sink_(std::move(sink)), seq_(seq) {}
  responder(responder&&) noexcept = default;
  responder& operator=(responder&& other) noexcept;
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;
  ~responder();

  // Answers the request. The server adds Date, Server, Connection and (unless the handler
  // set Content-Length or chunked) Content-Length; for HEAD it drops the body.
  void send(response&& res);

  // Answers with a streamed body (server/body_writer.hpp: sendfile file bodies, chunked
  // generated bodies). The header must carry Content-Length or Transfer-Encoding: chunked.
  // The session writes the header through the same in-order queue (a streamed exchange ends
  // a gathered write), hands the socket to `body` (which owns the pacing), and resumes the
  // queue when it is done; a writer error closes the connection. HEAD, 1xx, 204 and 304
  // send the header only (the writer is dropped unused).
  void send(response_header&& header, std::unique_ptr<body_writer> body);

  // False once the client has disconnected (or the response was already sent).
  bool connection_alive() const noexcept;

  // `cb` runs once, on the loop thread, if the connection closes before send(); use it to
  // cancel work queued for this request. Replaces an earlier callback.
  void on_cancel(std::function<void()> cb);

  // True until send() (or a move) consumed this responder.
  explicit operator bool() const noexcept { return sink_ != nullptr; }

 private:
  std::shared_ptr<detail::exchange_sink> sink_;
  std::uint64_t seq_ = 0;
};

}  // namespace nodus::server
