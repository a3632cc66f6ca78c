#include "server/http_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>
#include <utility>

#include "server/access_log.hpp"
#include "server/error_response.hpp"
#include "server/loop_server.hpp"

namespace nodus::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

namespace {
constexpr std::size_t read_chunk_bytes = 16 * 1024;
constexpr std::size_t stream_chunk_bytes = 64 * 1024;  // streamed body: per read() and per socket read
constexpr std::size_t copy_threshold_bytes = 1024;  // smaller pieces are copied into out_
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

net::steady_timer::time_point to_timer_time(runtime::loop::time_point t) {
  return net::steady_timer::time_point(
      std::chrono::duration_cast<net::steady_timer::duration>(t.time_since_epoch()));
}
// "HTTP/d.d" ends the (unparsed) request line: a well-formed request of another version.
bool is_other_http_version(std::string_view raw) {
  const std::string_view line = raw.substr(0, raw.find("\r\n"));
  if (line.size() < 8) return false;
  const std::string_view v = line.substr(line.size() - 8);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return v.starts_with("HTTP/") && digit(v[5]) && v[6] == '.' && digit(v[7]);
}
// RFC 9112 §6.1/§6.3, over every Transfer-Encoding field and list element (`chunked,` is
// `chunked`). Beast reads a request whose codings do not end in chunked as bodiless, so its
// body would be served as the next request: 400 (and close), as for chunked twice or in
// HTTP/1.0. Codings besides chunked (gzip, ...) would reach the handler undecoded: 501.
struct framing_error {
  http::status status;
  std::string_view error;
  std::string detail;
};
std::optional<framing_error> check_transfer_encoding(const http::request_parser<http::empty_body>& p) {
  const auto& h = p.get();
  const auto [first, last] = h.equal_range(http::field::transfer_encoding);
  if (first == last) return std::nullopt;
  int chunked = 0;
  std::string others;
  for (auto f = first; f != last; ++f) {
    for (const auto& coding : http::token_list{f->value()}) {
      if (beast::iequals(coding, "chunked")) {
        ++chunked;
      } else {
        others.append(others.empty() ? "" : ", ").append(coding);
      }
    }
  }
  if (!p.chunked() || chunked != 1 || h.version() < 11) {
    return framing_error{http::status::bad_request, "bad_request",
                         "Transfer-Encoding must end with chunked, once (HTTP/1.1 only)"};
  }
  if (!others.empty()) {
    return framing_error{http::status::not_implemented, "not_implemented", "unsupported transfer coding: " + others};
  }
  return std::nullopt;
}
// A buffer sequence over write_buffers_ that copies as two pointers (async_write keeps a
// copy of its buffer sequence; a vector would be copied, with an allocation, per write).
struct buffer_view {
  using value_type = net::const_buffer;
  using const_iterator = const net::const_buffer*;
  const_iterator first;
  const_iterator last;
  const_iterator begin() const noexcept { return first; }
  const_iterator end() const noexcept { return last; }
};
}  // namespace

// One request and its response, in the connection's in-order queue.
struct http_session::exchange {
  enum class state : std::uint8_t {
    reading,   // header parsed, body (or 100-continue) still to come
    handling,  // the handler owns the responder
    ready,     // response queued, not yet written
    writing,   // part of the outstanding write
  };

  void reset(std::uint64_t s) {
    seq = s;
    st = state::reading;
    keep_alive = false;
    head = false;
    version = 11;
    status = 0;
    body_bytes = 0;
    header_only = false;
    route_ptr = nullptr;
    method = http::verb::unknown;
    route_key = unmatched_route;
    serializer.reset();
    writer.reset();
    on_cancel = nullptr;
  }

  std::uint64_t seq = 0;
  state st = state::reading;
  bool keep_alive = false;
  bool head = false;
  unsigned version = 11;
  unsigned status = 0;
  std::uint64_t body_bytes = 0;
  bool header_only = false;     // a chunked header without a body (HEAD of a stream)
  std::size_t write_bytes = 0;  // bytes of this response in the outstanding write
  const route* route_ptr = nullptr;
  http::verb method = http::verb::unknown;  // request_stats labels
  route_id route_key = unmatched_route;
  time_point start{};
  // Header parsed (or the request rejected before that): request_stats' duration starts here.
  // Real time, not the cached loop time, which stays still while one callback serves many.
  std::chrono::steady_clock::time_point parsed{};
  request req;
  response res;
  std::optional<http::response_serializer<http::string_body>> serializer;
  std::function<void()> on_cancel;
  std::unique_ptr<body_writer> writer;  // a streamed response body, until it starts
  // Kept for the access log only (the handler may move the request away).
  std::string method_text;
  std::string target;
};

http_session::http_session(net::ip::tcp::socket socket, loop_server& owner)
    : owner_(owner),
      loop_(owner.loop()),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()) {
  error_code ec;
  remote_ = socket_.remote_endpoint(ec);
}

http_session::~http_session() = default;

void http_session::start() {
  handle_ = loop_.track_handle("TCPSocketWrap");
  owner_.attach(*this);
  do_read();
}

void http_session::shutdown_gracefully() {
  if (closed_) return;
  stop_reading_requests();
  // Idle: nothing in flight, at most a wait for the next request's first byte.
  if (phase_ == phase::idle && count_ == 0 && !writing_) return do_close();
}

void http_session::stop_reading_requests() { accepting_requests_ = false; }

// ---------------------------------------------------------------------------------------
// Reading

// Buffered pipelined requests complete synchronously and call do_read() again from inside
// do_read(); the nested call only flags another pass, so the stack stays flat however many
// requests one read delivered.
void http_session::do_read() {
  if (in_do_read_) {
    read_again_ = true;
    return;
  }
  in_do_read_ = true;
  do {
    read_again_ = false;
    do_read_once();
  } while (read_again_);
  in_do_read_ = false;
}

void http_session::do_read_once() {
  if (closed_ || lingering_ || reading_) return;
  if (phase_ == phase::continue_wait) return;  // the body waits for our 100 Continue
  if (phase_ == phase::stream && (!stream_pending() || continue_pending_)) return;  // handler paces
  if (phase_ == phase::stream && stream_direct_) return;  // pump_direct reads into the caller's buffer
  if (phase_ == phase::idle) {
    if (!accepting_requests_) return;
    if (count_ >= owner_.options().max_pipeline) return;  // resumed by on_write
    if (request_buffered()) {  // a pipelined request is already buffered
      begin_request();
      return parse();
    }
    if (count_ == 0 && idle_since_ == time_point{}) enter_idle();  // empty lines keep the deadline
  }
  reading_ = true;
  const std::size_t want = phase_ == phase::stream ? stream_chunk_bytes : read_chunk_bytes;
  io_socket().async_read_some(buffer_.prepare(want),
                          beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(error_code ec, std::size_t bytes) {
  reading_ = false;
  if (closed_) return;
  if (lingering_) {
    if (ec) return do_close();
    return do_linger();
  }
  if (ec && phase_ == phase::stream) {
    // The body's reader learns why (do_close delivers it); its responder is cancelled.
    stream_ec_ = ec == net::error::eof ? error_code(http::error::partial_message) : ec;
  }
  if (ec == net::error::eof) return on_peer_eof();
  if (ec) return fail(ec, "read");
  buffer_.commit(bytes);
  if (phase_ == phase::idle) {
    if (!accepting_requests_) {
      consume(buffer_.size());  // draining: requests after the last one are dropped
      return;
    }
    if (!request_buffered()) return do_read();
    begin_request();
  }
  parse();
}

// RFC 9112 §2.2: empty lines before a request line are ignored (as Node's parser does), such as
// the CRLF some clients send after a POST body. Drops them; whether a request has begun. A
// lone CR waits for its LF.
bool http_session::request_buffered() {
  const auto data = buffer_.cdata();
  const std::string_view s(static_cast<const char*>(data.data()), data.size());
  std::size_t n = 0;
  while (n < s.size() && (s[n] == '\n' || s.substr(n, 2) == "\r\n")) n += s[n] == '\r' ? 2 : 1;
  const bool begun = s.size() - n > 1 || (s.size() - n == 1 && s[n] != '\r');
  consume(n);
  return begun;
}

void http_session::begin_request() {
  idle_since_ = {};
  phase_ = phase::header;
  request_start_ = loop_.now();
  watch(request_start_ + owner_.options().request_timeout);
  auto& p = header_parser_.emplace();
  p.header_limit(owner_.options().max_header);
  p.body_limit(boost::none);  // decided in on_header, after routing
}

// Feeds the buffered bytes to the parser of the current phase; reads more when they do not
// complete it.
void http_session::parse() {
  error_code ec;
  if (phase_ == phase::header) {
    auto& p = *header_parser_;
    while (!p.is_header_done()) {
      if (buffer_.size() == 0) return do_read();
      consume(p.put(buffer_.data(), ec));
      if (ec == http::error::need_more) {
        if (const error_code stall = stalled_framing()) return on_parse_error(stall);
        return do_read();
      }
      if (ec) return on_parse_error(ec);
    }
    return on_header();
  }
  if (phase_ == phase::body) {
    auto& p = *body_parser_;
    while (!p.is_done()) {
      if (buffer_.size() == 0) return do_read();
      consume(p.put(buffer_.data(), ec));
      if (ec == http::error::need_more) {
        if (const error_code stall = stalled_framing()) return on_parse_error(stall);
        return do_read();
      }
      if (ec) return on_parse_error(ec);
    }
    return on_body();
  }
  if (phase_ == phase::stream) return pump_body();
}

void http_session::on_header() {
  const auto& h = header_parser_->get();
  const server_options& opt = owner_.options();
  exchange& x = push_exchange();
  ++owner_.stats().requests;
  x.start = request_start_;
  x.parsed = std::chrono::steady_clock::now();
  x.method = h.method();
  x.version = h.version() == 10 ? 10 : 11;
  x.keep_alive = h.keep_alive();
  x.head = h.method() == http::verb::head;
  if (opt.access_log) {
    x.method_text.assign(h.method_string());
    x.target.assign(h.target());
  }

  const std::string_view target = h.target();
  if (target.size() > opt.max_uri) {
    return reject(&x, http::status::uri_too_long, "uri_too_long",
                  "request target exceeds " + std::to_string(opt.max_uri) + " bytes");
  }
  const std::string_view path = target_path(target);
  if (path.empty()) return reject(&x, http::status::bad_request, "bad_request", "bad request target");
  if (auto e = check_transfer_encoding(*header_parser_)) return reject(&x, e->status, e->error, e->detail);

  const bool has_body =
      header_parser_->chunked() || header_parser_->content_length().value_or(0) > 0;
  const auto match = owner_.routes().match(h.method(), path);
  x.route_key = match.id;
  if (match.result != router::outcome::found) {
    // Without a body the connection stays usable; with one we would have to read it first.
    const bool keep = !has_body;
    if (match.result == router::outcome::not_found) {
      reject(&x, http::status::not_found, "not_found", "no route for " + std::string(path), {},
             keep);
    } else {
      reject(&x, http::status::method_not_allowed, "method_not_allowed",
             std::string(h.method_string()) + " is not allowed on " + std::string(path),
             match.allow, keep);
    }
    return do_read();
  }
  x.route_ptr = match.target;

  const std::uint64_t limit = body_limit(*match.target);
  if (has_body) {
    if (match.target->options.body == body_mode::none) {
      return reject(&x, http::status::payload_too_large, "payload_too_large",
                    std::string(path) + " takes no request body");
    }
    if (header_parser_->content_length().value_or(0) > limit) {
      return reject(&x, http::status::payload_too_large, "payload_too_large",
                    "request body exceeds " + std::to_string(limit) + " bytes");
    }
  }
  bool want_continue = false;
  if (const auto expect = h[http::field::expect]; !expect.empty() && x.version >= 11) {
    if (!beast::iequals(expect, "100-continue")) {
      return reject(&x, http::status::expectation_failed, "expectation_failed",
                    "unsupported Expect: " + std::string(expect));
    }
    want_continue = has_body;
  }

  if (match.target->options.body == body_mode::streamed) {
    return start_stream(x, has_body, want_continue, limit);
  }
  if (!has_body) {
    auto header_only = header_parser_->release();
    header_parser_.reset();
    x.req = request(std::move(header_only.base()));
    phase_ = phase::idle;
    dispatch(x);
    return do_read();
  }
  body_parser_.emplace(std::move(*header_parser_));
  header_parser_.reset();
  body_parser_->body_limit(limit);
  if (want_continue) {
    phase_ = phase::continue_wait;
    return do_write();
  }
  phase_ = phase::body;
  parse();
}

void http_session::on_body() {
  exchange& x = back();
  x.req = body_parser_->release();
  body_parser_.reset();
  phase_ = phase::idle;
  dispatch(x);
  do_read();
}

// Whether what the parser waits for can no longer come. While it wants more, what it left in
// buffer_ is part of a head, a chunk's size line or the trailer (body bytes never stay there),
// and Beast ends those lines only at CRLF:
// - over --max-header unparsed: header_limit. A head's parser stops there itself; Beast bounds
//   neither a chunk line (its extensions) nor the trailer, so this is their limit (413; Node
//   answers 413 past 16 KiB of extensions).
// - a line ended by a bare LF: bad_line_ending (400) at once, as Node's parser answers. Beast
//   refuses one in a head only if the line arrived whole in one read; otherwise, and in chunked
//   framing always, it takes the LF for an ordinary byte and would wait for the request timeout.
// Each call scans only the bytes that arrived since the last (framing_checked_), so a head sent a
// byte at a time costs a scan of each byte once, not of the whole buffer per byte.
error_code http_session::stalled_framing() {
  if (buffer_.size() > owner_.options().max_header) return http::error::header_limit;
  const auto data = buffer_.cdata();
  const std::string_view raw(static_cast<const char*>(data.data()), data.size());
  for (std::size_t lf = raw.find('\n', framing_checked_); lf != std::string_view::npos;
       lf = raw.find('\n', lf + 1)) {
    if (lf == 0 || raw[lf - 1] != '\r') return http::error::bad_line_ending;
  }
  framing_checked_ = raw.size();
  return {};
}

void http_session::consume(std::size_t n) {
  buffer_.consume(n);
  framing_checked_ -= std::min(n, framing_checked_);
}

void http_session::reject_framing_line(exchange* x) {
  reject(x, http::status::payload_too_large, "chunk_line_too_large",
         "a chunk size line or the trailer exceeds " + std::to_string(owner_.options().max_header) +
             " bytes (--max-header)");
}

void http_session::on_parse_error(error_code ec) {
  const server_options& opt = owner_.options();
  exchange* x = phase_ == phase::header ? nullptr : &back();
  if (ec == http::error::header_limit && x != nullptr) return reject_framing_line(x);
  const auto data = buffer_.cdata();
  const std::string_view raw(static_cast<const char*>(data.data()), data.size());
  if (ec == http::error::header_limit) {
    // The parser consumes the request line once it is complete. A request line that did
    // not fit, or a parsed target over --max-uri, makes a long URI, not a big header block.
    const std::string_view target = header_parser_->get().target();
    const bool line_incomplete = target.empty();
    if ((line_incomplete && raw.substr(0, raw.find("\r\n")).size() > opt.max_uri) ||
        target.size() > opt.max_uri) {
      return reject(x, http::status::uri_too_long, "uri_too_long",
                    "request target exceeds " + std::to_string(opt.max_uri) + " bytes");
    }
    return reject(x, http::status::request_header_fields_too_large, "header_fields_too_large",
                  "request header block exceeds " + std::to_string(opt.max_header) + " bytes");
  }
  if (ec == http::error::bad_version && is_other_http_version(raw)) {
    return reject(x, http::status::http_version_not_supported, "http_version_not_supported",
                  "only HTTP/1.0 and HTTP/1.1 are served");
  }
  if (ec == http::error::body_limit) {
    const std::uint64_t limit = x != nullptr && x->route_ptr ? body_limit(*x->route_ptr) : opt.max_body;
    return reject(x, http::status::payload_too_large, "payload_too_large",
                  "request body exceeds " + std::to_string(limit) + " bytes");
  }
  reject(x, http::status::bad_request, "bad_request", "malformed request: " + ec.message());
}

void http_session::on_peer_eof() {
  // The peer sent its last byte. As Node does (httpAllowHalfOpen = false), that means the
  // client is gone: requests still being read or handled are abandoned (their cancel
  // callbacks run). Responses already complete are still written, then the connection closes.
  if (phase_ != phase::idle) return do_close();
  stop_reading_requests();
  for (std::size_t i = 0; i < count_; ++i) {
    if (at(i).st == exchange::state::handling) return do_close();
  }
  if (count_ == 0 && !writing_) do_close();
}

void http_session::dispatch(exchange& x, body_reader* body) {
  x.st = exchange::state::handling;
  const request_context ctx{loop_, remote_, owner_.stats(), body};
  try {
    x.route_ptr->fn(x.req, ctx, responder(shared_from_this(), x.seq));
  } catch (const std::exception& e) {
    // The responder died with the stack unwinding and answered 500.
    spdlog::error("handler for {} threw: {}", x.req.target(), e.what());
  }
}

// Answers `x` (or a new exchange for a request whose header never completed) with a JSON
// error; unless `keep_connection`, the connection closes after it.
void http_session::reject(exchange* x, http::status status, std::string_view error,
                          std::string_view detail, std::string_view allow,
                          bool keep_connection) {
  if (x == nullptr) {
    x = &push_exchange();
    x->start = request_start_;
    x->parsed = std::chrono::steady_clock::now();
    x->method_text = "-";
    x->target = "-";
    // A HEAD answer has no body (RFC 9110 §9.3.2), even when the header never completed: the
    // method is known once the request line is parsed (the buffer then starts at a field), or
    // from the buffered bytes before that (Beast consumes none of an incomplete request line).
    std::string_view method;
    if (header_parser_) method = header_parser_->get().method_string();
    const auto data = buffer_.cdata();
    const std::string_view raw(static_cast<const char*>(data.data()), data.size());
    x->head = method.empty() ? raw.starts_with("HEAD ") : method == "HEAD";
  }
  if (!keep_connection) {
    x->keep_alive = false;
    stop_reading_requests();
  }
  header_parser_.reset();
  body_parser_.reset();
  stream_parser_.reset();
  continue_wanted_ = false;
  continue_pending_ = false;
  phase_ = phase::idle;
  response res = error_response(status, error, detail);
  if (!allow.empty()) res.set(http::field::allow, allow);
  if (status != http::status::not_found && status != http::status::method_not_allowed) {
    ++owner_.stats().bad_requests;  // a protocol error, not the route table's answer
  }
  x->st = exchange::state::handling;
  finish(*x, std::move(res));
}


// ---------------------------------------------------------------------------------------
// Streamed request bodies (body_mode::streamed; the contract is in server/body_reader.hpp)

std::uint64_t http_session::body_limit(const route& r) const noexcept {
  return r.options.max_body != 0 ? r.options.max_body : owner_.options().max_body;
}

// The handler runs now, with the header; the body stays in the socket until it asks.
void http_session::start_stream(exchange& x, bool has_body, bool want_continue,
                                std::uint64_t limit) {
  x.req = request(http::request_header<>(header_parser_->get().base()));
  stream_seq_ = x.seq;
  stream_ec_ = {};
  stream_end_ = !has_body;
  stream_direct_ = false;
  stream_direct_left_ = 0;
  continue_wanted_ = want_continue;
  continue_pending_ = false;
  if (has_body) {
    stream_parser_.emplace(std::move(*header_parser_));
    if (limit == std::numeric_limits<std::uint64_t>::max()) {
      stream_parser_->body_limit(boost::none);
    } else {
      stream_parser_->body_limit(limit);
    }
    if (!stream_chunk_) stream_chunk_ = std::make_unique<char[]>(stream_chunk_bytes);
    phase_ = phase::stream;
  } else {
    phase_ = phase::idle;
  }
  header_parser_.reset();
  body_reader reader(shared_from_this(), x.seq);
  dispatch(x, &reader);
  if (phase_ == phase::idle) do_read();
}

void http_session::read_body(std::uint64_t seq, body_reader::read_handler done) {
  const auto later = [this](body_reader::read_handler d, error_code ec) {
    net::post(socket_.get_executor(), [d = std::move(d), ec] { d(ec, {}); });
  };
  if (const auto why = refuse_body_read(seq)) return later(std::move(done), *why);
  stream_read_ = std::move(done);
  start_body_read();
}

void http_session::read_body_into(std::uint64_t seq, std::span<char> dst,
                                  body_reader::fill_handler done) {
  const auto later = [this](body_reader::fill_handler d, error_code ec) {
    net::post(socket_.get_executor(), [d = std::move(d), ec] { d(ec, 0); });
  };
  if (dst.empty()) return later(std::move(done), net::error::invalid_argument);
  if (const auto why = refuse_body_read(seq)) return later(std::move(done), *why);
  stream_fill_ = std::move(done);
  stream_dst_ = dst;
  stream_filled_ = 0;
  start_body_read();
}

// What a read()/read_into() of body `seq` is answered with at once instead of starting
// (the end of the body is an empty error code); nullopt: it may start.
std::optional<error_code> http_session::refuse_body_read(std::uint64_t seq) {
  // An older body ended normally (a later stream starts only then): it reports its end again.
  if (seq != stream_seq_) return seq < stream_seq_ ? error_code{} : error_code(net::error::operation_aborted);
  if (stream_pending()) return error_code(net::error::in_progress);
  if (closed_ && !stream_ec_) stream_ec_ = net::error::operation_aborted;
  if (stream_ec_ || stream_end_) return stream_ec_;
  return std::nullopt;
}

void http_session::start_body_read() {
  if (continue_wanted_) {  // the client waits for our 100 before it sends the body
    continue_wanted_ = false;
    continue_pending_ = true;
    return do_write();
  }
  pump_body();
}

// Where the next body bytes go: the caller's buffer (read_into) or the session's chunk.
std::span<char> http_session::body_target() noexcept {
  if (stream_fill_) return stream_dst_.subspan(stream_filled_);
  return {stream_chunk_.get(), stream_chunk_bytes};
}

// `n` body bytes were written at body_target(): a read() gets them now; a read_into() once
// its buffer is full. true when the pending read was delivered.
bool http_session::take_body_bytes(std::size_t n) {
  if (n == 0) return false;
  if (stream_read_) {
    deliver_body({}, std::string_view(stream_chunk_.get(), n));
    return true;
  }
  stream_filled_ += n;
  if (stream_filled_ < stream_dst_.size()) return false;
  deliver_fill({});
  return true;
}

// The body is consumed: the connection may parse the next pipelined request.
void http_session::end_of_body() {
  stream_end_ = true;
  stream_direct_ = false;
  stream_parser_.reset();
  phase_ = phase::idle;
  if (stream_fill_) {
    deliver_fill({});
  } else {
    deliver_body({}, {});
  }
  do_read();
}

// Feeds buffered bytes to the body parser until it yields body bytes (a read() gets them as
// one chunk; a read_into() collects them until its buffer is full) or needs more input (one
// socket read, under the progress timeout). A Content-Length body under read_into() switches
// to direct reads once the parser has consumed everything buffered.
void http_session::pump_body() {
  if (!stream_pending() || closed_ || phase_ != phase::stream) return;
  if (stream_direct_) return pump_direct();
  auto& p = *stream_parser_;
  while (!p.is_done() && buffer_.size() > 0) {
    const std::span<char> out = body_target();
    auto& b = p.get().body();
    b.data = out.data();
    b.size = out.size();
    b.more = true;
    error_code ec;
    const std::size_t used = p.put(buffer_.data(), ec);
    consume(used);
    const std::size_t n = out.size() - b.size;
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::need_more) {
      if (const error_code stall = stalled_framing()) return on_stream_error(stall);
    }
    if (ec && ec != http::error::need_more) return on_stream_error(ec);
    if (take_body_bytes(n)) return;
    if (ec == http::error::need_more || used == 0) break;
  }
  if (p.is_done()) return end_of_body();
  if (stream_fill_ && buffer_.size() == 0 && !p.chunked()) {
    if (const auto left = p.content_length_remaining(); left && *left > 0) {
      stream_direct_ = true;
      stream_direct_left_ = *left;
      return pump_direct();
    }
  }
  stream_wait_start_ = loop_.now();
  watch(stream_wait_start_ + owner_.options().request_timeout);
  do_read();
}

// Direct mode: what is left of a Content-Length body goes from buffer_ (bytes that arrived
// with an earlier read) and then from the socket straight into the caller's buffer, each
// read as large as the buffer's room (capped at the body's end, so a pipelined request
// behind it stays in the socket for the parser).
void http_session::pump_direct() {
  if (direct_reading_ || reading_) return;
  while (stream_pending() && stream_direct_left_ > 0 && buffer_.size() > 0) {
    const std::span<char> out = body_target();
    const std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>(std::min(out.size(), buffer_.size()), stream_direct_left_));
    net::buffer_copy(net::buffer(out.data(), n), buffer_.data());
    consume(n);
    stream_direct_left_ -= n;
    // A delivered read returns: even at the body's end, the end is reported to the next
    // read (as the parser path does), so a pipelined request cannot start before then.
    if (take_body_bytes(n)) return;
  }
  if (stream_direct_left_ == 0) return end_of_body();
  if (!stream_pending()) return;
  const std::span<char> out = body_target();
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), stream_direct_left_));
  stream_wait_start_ = loop_.now();
  watch(stream_wait_start_ + owner_.options().request_timeout);
  reading_ = true;
  direct_reading_ = true;
  io_socket().async_read_some(net::buffer(out.data(), want),
                          beast::bind_front_handler(&http_session::on_direct_read, shared_from_this()));
}

void http_session::on_direct_read(error_code ec, std::size_t bytes) {
  reading_ = false;
  direct_reading_ = false;
  if (closed_ || lingering_ || stream_ec_ || phase_ != phase::stream) {
    // Aborted while the read was outstanding: the pending read_into() was kept until now
    // (its buffer had to stay valid); it gets the error that ended the body.
    if (stream_fill_) deliver_fill(stream_ec_ ? stream_ec_ : error_code(net::error::operation_aborted));
    if (closed_) return;
    if (lingering_) {
      if (ec) return do_close();
      return do_linger();
    }
    // Not lingering yet (e.g. answered 408, the response still being written): a peer that
    // is gone meanwhile is handled now, not when the write fails.
    if (ec == net::error::eof) return on_peer_eof();
    if (ec && ec != net::error::operation_aborted) return fail(ec, "read");
    return;
  }
  if (ec) {
    stream_ec_ = ec == net::error::eof ? error_code(http::error::partial_message) : ec;
    if (ec == net::error::eof) return on_peer_eof();
    return fail(ec, "read");
  }
  stream_direct_left_ -= bytes;
  if (take_body_bytes(bytes)) return;  // the end, if that was the last byte, on the next read
  if (stream_direct_left_ == 0) return end_of_body();
  pump_direct();
}

// Runs the pending read's callback on a later loop turn (never inside read()).
void http_session::deliver_body(error_code ec, std::string_view chunk) {
  auto done = std::move(stream_read_);
  stream_read_ = nullptr;
  if (!done) return;
  net::post(socket_.get_executor(), [self = shared_from_this(), done = std::move(done), ec, chunk] {
    done(ec, chunk);
    self->quiet_if_paused();
  });
}

// Runs the pending read_into()'s callback on a later loop turn, with the bytes filled so far.
void http_session::deliver_fill(error_code ec) {
  auto done = std::move(stream_fill_);
  stream_fill_ = nullptr;
  const std::size_t n = stream_filled_;
  stream_dst_ = {};
  stream_filled_ = 0;
  if (!done) return;
  net::post(socket_.get_executor(), [self = shared_from_this(), done = std::move(done), ec, n] {
    done(ec, n);
    self->quiet_if_paused();
  });
}

// A handler that has not asked for more body (after a delivery, or a pipelined body it has
// not started reading) is pacing the upload (e.g. its pool job has the bytes). While the
// socket stays in the reactor, every segment the client still sends wakes the loop for
// nothing: epoll is edge-triggered, and once the receive buffer is nearly full the kernel
// signals each arrival whatever SO_RCVLOWAT says (tcp_rmem_pressure).
// For POST /hash on one core that was ~145 wake-ups per 64 MiB upload, each preempting the
// pool thread. So a paused body takes the socket out of the reactor (release: EPOLL_CTL_DEL)
// until the next I/O on it (io_socket(): assign, EPOLL_CTL_ADD). The kernel keeps receiving
// meanwhile, up to the socket's buffer (tcp_rmem's autotuning), as for any reader that waits.
// Only with nothing outstanding on the socket (release() would abort a read or write): a
// pause that begins while a response is being written parks when the write is done
// (resume_after_write).
void http_session::quiet_if_paused() {
  if (closed_ || lingering_ || phase_ != phase::stream || stream_pending() || stream_end_ || stream_ec_) return;
  if (parked_ || reading_ || writing_ || streaming_) return;
  error_code ec;
  if (!protocol_) {
    const auto local = socket_.local_endpoint(ec);
    if (ec) return;
    protocol_ = local.protocol();
  }
  const int fd = socket_.release(ec);
  if (ec) {
    spdlog::debug("parking the socket of {}:{}: {}", remote_.address().to_string(), remote_.port(),
                  ec.message());
    return;
  }
  parked_ = files::unique_fd(fd);
}

net::ip::tcp::socket& http_session::io_socket() {
  if (!parked_) return socket_;
  files::unique_fd fd = std::move(parked_);
  error_code ec;
  socket_.assign(*protocol_, fd.get(), ec);
  if (!ec) {
    fd.release();  // socket_ owns it again
  } else {
    // Out of the reactor for good: `fd` closes here, the socket stays closed, and the I/O
    // asked for fails with bad_descriptor, which ends the connection as any socket error does.
    spdlog::warn("connection {}:{}: socket back to the reactor: {}", remote_.address().to_string(),
                 remote_.port(), ec.message());
  }
  return socket_;
}

// Malformed framing or a body over the route's limit: the session answers (400/413) in the
// handler's place, the reader gets the error, and the connection closes after the answer.
void http_session::on_stream_error(error_code ec) {
  stream_ec_ = ec;
  exchange* x = find(stream_seq_);
  if (x != nullptr && x->st == exchange::state::handling) {
    if (ec == http::error::body_limit) {
      reject(x, http::status::payload_too_large, "payload_too_large",
             "request body exceeds " + std::to_string(body_limit(*x->route_ptr)) + " bytes");
    } else if (ec == http::error::header_limit) {
      reject_framing_line(x);
    } else {
      reject(x, http::status::bad_request, "bad_request", "malformed request body: " + ec.message());
    }
  } else {
    do_close();
  }
  abort_stream(ec);
}

// Ends the streamed body for good: the pending read (if any) gets `ec` (or what failed it).
void http_session::abort_stream(error_code ec) {
  if (!stream_ec_ && !stream_end_) stream_ec_ = ec;
  continue_wanted_ = false;
  continue_pending_ = false;
  stream_parser_.reset();
  stream_direct_ = false;
  if (stream_read_) deliver_body(stream_ec_ ? stream_ec_ : ec, {});
  // A read_into() whose buffer a socket read is still writing to is answered when that
  // read completes (on_direct_read), not before.
  if (stream_fill_ && !direct_reading_) deliver_fill(stream_ec_ ? stream_ec_ : ec);
}

// ---------------------------------------------------------------------------------------
// Responders

void http_session::complete(std::uint64_t seq, response&& res) {
  if (closed_ || lingering_) return;
  exchange* x = find(seq);
  if (x == nullptr || x->st != exchange::state::handling) return;
  finish(*x, std::move(res));
}

void http_session::complete_streamed(std::uint64_t seq, response_header&& header,
                                     std::unique_ptr<body_writer> body) {
  if (closed_ || lingering_) return;
  exchange* x = find(seq);
  if (x == nullptr || x->st != exchange::state::handling) return;
  x->writer = std::move(body);
  finish(*x, response(std::move(header)));
}

void http_session::abandon(std::uint64_t seq) {
  if (closed_ || lingering_) return;
  exchange* x = find(seq);
  if (x == nullptr || x->st != exchange::state::handling) return;
  spdlog::error("handler for {} {} did not respond", x->req.method_string(), x->req.target());
  finish(*x, error_response(http::status::internal_server_error, "internal_error",
                            "the handler did not produce a response"));
}

bool http_session::alive(std::uint64_t seq) const noexcept {
  if (closed_ || lingering_) return false;
  const exchange* x = find(seq);
  return x != nullptr && x->st == exchange::state::handling;
}

void http_session::set_cancel(std::uint64_t seq, std::function<void()> cb) {
  if (closed_ || lingering_) return;
  if (exchange* x = find(seq); x != nullptr && x->st == exchange::state::handling) {
    x->on_cancel = std::move(cb);
  }
}

// ---------------------------------------------------------------------------------------
// Writing

// Completes the response headers and queues it.
void http_session::finish(exchange& x, response&& res) {
  const bool handler_close = beast::iequals(res[http::field::connection], "close");
  x.keep_alive = x.keep_alive && !handler_close;
  res.version(x.version);
  res.set(http::field::server, server_header());
  res.set(http::field::date, owner_.dates().get());
  unsigned status = res.result_int();
  const bool bodiless_status = status / 100 == 1 || status == 204 || status == 304;
  const bool framed = res.chunked() || res.find(http::field::content_length) != res.end();
  if (x.writer && !bodiless_status && !framed) {
    spdlog::error("streamed response to {} has neither Content-Length nor chunked", x.target);
    x.writer.reset();
    res = error_response(http::status::internal_server_error, "internal_error",
                         "the handler produced an unframed streamed response");
    res.version(x.version);
    res.set(http::field::server, server_header());
    res.set(http::field::date, owner_.dates().get());
    status = res.result_int();
  }
  if (!bodiless_status && !res.chunked() && res.find(http::field::content_length) == res.end()) {
    res.content_length(res.body().size());
  }
  if (x.head || bodiless_status) {
    // HEAD of a streamed chunked body keeps its Transfer-Encoding, without the last chunk.
    x.header_only = x.writer != nullptr && res.chunked();
    if (res.chunked() && !x.header_only) res.chunked(false);
    res.body().clear();
    x.writer.reset();  // HEAD, 1xx, 204, 304: the header says it all
  }
  if (phase_ == phase::stream && x.seq == stream_seq_) {
    // Answered before its body was read to the end: the rest is never read; close after.
    x.keep_alive = false;
    stop_reading_requests();
  }
  x.status = status;
  x.body_bytes = res.body().size();
  x.on_cancel = nullptr;
  x.res = std::move(res);
  x.st = exchange::state::ready;
  do_write();
}

void http_session::do_write() {
  if (writing_ || streaming_ || closed_ || lingering_ || count_ == 0) return;
  exchange& first = at(0);
  if (first.st == exchange::state::reading && phase_ == phase::continue_wait && count_ == 1) {
    return do_write_continue();
  }
  if (continue_pending_ && first.seq == stream_seq_ && first.st == exchange::state::handling) {
    return do_write_continue();  // every earlier response is out: the 100 is next
  }
  if (first.st != exchange::state::ready) return;

  out_.clear();
  pieces_.clear();
  write_buffers_.clear();
  batch_ = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    exchange& x = at(i);
    if (x.st != exchange::state::ready) break;
    // The last response before the connection closes says so.
    const bool last = i + 1 == count_ && phase_ == phase::idle;
    if (last && !accepting_requests_) x.keep_alive = false;
    x.res.keep_alive(x.keep_alive);
    gather(x);
    ++batch_;
    if (!x.keep_alive || x.writer) break;  // a streamed body follows its header alone
  }
  // out_ may have moved while growing: point the copied pieces at its final storage.
  for (const piece& p : pieces_) {
    write_buffers_.emplace_back(p.ref != nullptr ? p.ref : out_.data() + p.offset, p.size);
  }
  writing_ = true;
  write_start_ = loop_.now();
  watch(write_start_ + owner_.options().write_timeout);
  net::async_write(io_socket(), buffer_view{write_buffers_.data(), write_buffers_.data() + write_buffers_.size()},
                   beast::bind_front_handler(&http_session::on_write, shared_from_this()));
}

// Appends x's serialized response to the pending write: small pieces are copied into out_
// (one write for many pipelined responses), large ones are referenced in place.
void http_session::gather(exchange& x) {
  auto& sr = x.serializer.emplace(x.res);
  sr.split(x.writer != nullptr || x.header_only);  // header only: the writer sends the body
  x.write_bytes = 0;
  x.st = exchange::state::writing;
  error_code ec;
  sr.next(ec, [&](error_code&, const auto& buffers) {
    for (const net::const_buffer b : beast::buffers_range_ref(buffers)) {
      x.write_bytes += b.size();
      if (b.size() >= copy_threshold_bytes) {
        pieces_.push_back({b.data(), 0, b.size()});
        continue;
      }
      if (pieces_.empty() || pieces_.back().ref != nullptr) pieces_.push_back({nullptr, out_.size(), 0});
      out_.append(static_cast<const char*>(b.data()), b.size());
      pieces_.back().size += b.size();
    }
  });
}

void http_session::on_write(error_code ec, std::size_t) {
  writing_ = false;
  if (closed_) return;
  if (ec) return fail(ec, "write");
  const auto written = std::chrono::steady_clock::now();  // one clock read per gathered write
  for (std::size_t i = 0; i < batch_; ++i) {
    exchange& x = at(0);
    x.serializer->consume(x.write_bytes);
    if (x.writer) {
      if (!x.serializer->is_header_done()) break;
      return start_body_write(x);
    }
    if (!(x.header_only ? x.serializer->is_header_done() : x.serializer->is_done())) {
      spdlog::error("response to {} not fully serialized in one pass", x.target);
      return do_close();
    }
    if (!retire_head(written)) return do_graceful_close();
  }
  batch_ = 0;
  resume_after_write();
}

// Counts and logs the response at the head of the queue, fully written at `written`, and
// pops it. Returns its keep-alive.
bool http_session::retire_head(std::chrono::steady_clock::time_point written) {
  exchange& x = at(0);
  ++owner_.stats().responses;
  const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(written - x.parsed);
  owner_.requests().record(x.route_key, x.method, x.status,
                           static_cast<std::uint64_t>(std::max<std::int64_t>(0, took.count())));
  const server_options& opt = owner_.options();
  if (opt.access_log) {
    access_entry e{remote_, x.method_text, x.target, x.version, x.status, x.body_bytes,
                   loop_.now() - x.start};
    opt.access_log->info(format_access_line(e, std::time(nullptr)));
  }
  const bool keep = x.keep_alive;
  pop_exchange();
  return keep;
}

void http_session::resume_after_write() {
  if (count_ == 0 && !accepting_requests_ && phase_ == phase::idle) {
    return do_graceful_close();
  }
  do_write();
  if (count_ == 0 && reading_ && phase_ == phase::idle) enter_idle();
  do_read();
  quiet_if_paused();  // a body that paused while this write was out
}

// The header of a streamed response is out: the socket is the writer's until it calls back.
void http_session::start_body_write(exchange& x) {
  batch_ = 0;
  streaming_ = true;
  body_writer_ = std::move(x.writer);
  body_writer_->async_write(
      io_socket(), beast::bind_front_handler(&http_session::on_body_written, shared_from_this()));
}

void http_session::on_body_written(error_code ec, std::uint64_t bytes) {
  streaming_ = false;
  body_writer_.reset();
  if (closed_) return;
  exchange& x = at(0);
  x.body_bytes = bytes;
  if (ec) {
    // The header promised a body that cannot be completed: only closing tells the client.
    spdlog::warn("response body for {}:{} {} aborted after {} bytes: {}",
                 remote_.address().to_string(), remote_.port(), x.target, bytes, ec.message());
    return do_close();
  }
  if (!retire_head(std::chrono::steady_clock::now())) return do_graceful_close();
  resume_after_write();
}

void http_session::do_write_continue() {
  writing_ = true;
  write_start_ = loop_.now();
  watch(write_start_ + owner_.options().write_timeout);
  net::async_write(io_socket(), net::buffer(continue_line.data(), continue_line.size()),
                   beast::bind_front_handler(&http_session::on_write_continue,
                                             shared_from_this()));
}

void http_session::on_write_continue(error_code ec, std::size_t) {
  writing_ = false;
  if (closed_) return;
  if (ec) return fail(ec, "write");
  if (continue_pending_) {  // a streamed body's first read() asked for it
    continue_pending_ = false;
    do_write();
    return pump_body();
  }
  if (phase_ != phase::continue_wait) return do_write();  // rejected meanwhile (timeout)
  phase_ = phase::body;
  parse();
}

// ---------------------------------------------------------------------------------------
// Closing

// After a final response: stop sending, read and drop what the client still sends (so the
// kernel does not answer it with a reset that could destroy the response in flight), close
// at EOF or after the linger timeout.
void http_session::do_graceful_close() {
  if (closed_ || lingering_) return;
  lingering_ = true;
  abort_stream(net::error::operation_aborted);
  cancel_pending();
  error_code ec;
  io_socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  linger_deadline_ = loop_.now() + owner_.options().linger_timeout;
  watch(linger_deadline_);
  if (!reading_) do_linger();
}

void http_session::do_linger() {
  consume(buffer_.size());
  reading_ = true;
  io_socket().async_read_some(buffer_.prepare(read_chunk_bytes),
                          beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::do_close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  parked_ = {};  // closes a parked socket
  socket_.close(ec);
  timer_.cancel();
  timer_armed_ = false;
  handle_.reset();
  header_parser_.reset();
  body_parser_.reset();
  abort_stream(net::error::operation_aborted);
  cancel_pending();
  owner_.detach(*this);
}

void http_session::fail(error_code ec, const char* what) {
  if (ec != net::error::operation_aborted) {
    spdlog::debug("connection {}:{} {}: {}", remote_.address().to_string(), remote_.port(), what,
                  ec.message());
  }
  do_close();
}

// Tells handlers still working on requests of this connection that nobody will read the
// answer. Callbacks run after the state is updated; they may call back into the session.
void http_session::cancel_pending() {
  std::vector<std::function<void()>> callbacks;
  for (std::size_t i = 0; i < count_; ++i) {
    exchange& x = at(i);
    if (x.st == exchange::state::handling && x.on_cancel) callbacks.push_back(std::move(x.on_cancel));
    x.on_cancel = nullptr;
  }
  for (auto& cb : callbacks) cb();
}

// ---------------------------------------------------------------------------------------
// Timeouts: one timer per connection, armed for the earliest deadline in force and
// re-checked when it fires (deadlines that moved later just re-arm it).

void http_session::enter_idle() {
  idle_since_ = loop_.now();
  watch(idle_since_ + owner_.options().idle_timeout);
}

void http_session::watch(time_point deadline) {
  if (closed_) return;
  if (timer_armed_ && timer_expiry_ <= deadline) return;
  timer_armed_ = true;
  timer_expiry_ = deadline;
  timer_.expires_at(to_timer_time(deadline));
  timer_.async_wait(beast::bind_front_handler(&http_session::on_watch, shared_from_this()));
}

void http_session::on_watch(error_code ec) {
  if (ec == net::error::operation_aborted || closed_) return;
  timer_armed_ = false;
  const server_options& opt = owner_.options();
  const time_point now = loop_.now();
  time_point next = time_point::max();
  const auto check = [&](time_point deadline) {
    if (deadline > now) next = std::min(next, deadline);
    return deadline <= now;
  };
  if (lingering_) {
    if (check(linger_deadline_)) return do_close();
  }
  if (writing_ && check(write_start_ + opt.write_timeout)) {
    spdlog::debug("connection {}: write timed out", remote_.port());
    return do_close();
  }
  if (!lingering_ && phase_ == phase::stream) {
    if (reading_ && check(stream_wait_start_ + opt.request_timeout)) {
      // No byte of the streamed body for a whole request timeout: 408 if the handler has not
      // answered yet, and the reader gets timed_out.
      ++owner_.stats().request_timeouts;
      stream_ec_ = net::error::timed_out;
      exchange* x = find(stream_seq_);
      if (x != nullptr && x->st == exchange::state::handling) {
        reject(x, http::status::request_timeout, "request_timeout",
               "no byte of the request body for " + std::to_string(opt.request_timeout.count()) +
                   " ms");
      } else {
        do_close();
      }
      abort_stream(net::error::timed_out);
      return;
    }
  } else if (!lingering_ && phase_ != phase::idle &&
             check(request_start_ + opt.request_timeout)) {
    // Slowloris: the request did not arrive in time. 408 after whatever is queued, then close.
    ++owner_.stats().request_timeouts;
    exchange* x = phase_ == phase::header ? nullptr : &back();
    if (x != nullptr && x->st != exchange::state::reading) x = nullptr;
    reject(x, http::status::request_timeout, "request_timeout",
           "the request did not arrive within " + std::to_string(opt.request_timeout.count()) +
               " ms");
    return;
  }
  if (!lingering_ && phase_ == phase::idle && count_ == 0 && !writing_ && reading_ &&
      check(idle_since_ + opt.idle_timeout)) {
    ++owner_.stats().idle_timeouts;
    return do_close();
  }
  if (next != time_point::max()) watch(next);
}

// ---------------------------------------------------------------------------------------
// The in-order queue: a ring of reusable exchanges, grown on demand up to --max-pipeline.

http_session::exchange& http_session::at(std::size_t i) const noexcept {
  return *ring_[(head_ + i) % ring_.size()];
}

http_session::exchange& http_session::push_exchange() {
  if (count_ == ring_.size()) {
    std::vector<std::unique_ptr<exchange>> grown;
    grown.reserve(std::max<std::size_t>(2, ring_.size() * 2));
    for (std::size_t i = 0; i < ring_.size(); ++i) {
      grown.push_back(std::move(ring_[(head_ + i) % ring_.size()]));
    }
    while (grown.size() < grown.capacity()) grown.push_back(std::make_unique<exchange>());
    ring_ = std::move(grown);
    head_ = 0;
  }
  exchange& x = *ring_[(head_ + count_) % ring_.size()];
  x.reset(head_seq_ + count_);
  ++count_;
  return x;
}

void http_session::pop_exchange() noexcept {
  exchange& x = at(0);
  x.serializer.reset();
  x.writer.reset();
  x.req = {};
  x.res = {};
  head_ = (head_ + 1) % ring_.size();
  --count_;
  ++head_seq_;
}

http_session::exchange* http_session::find(std::uint64_t seq) const noexcept {
  if (seq < head_seq_ || seq >= head_seq_ + count_) return nullptr;
  return &at(static_cast<std::size_t>(seq - head_seq_));
}

}  // namespace nodus::server
