#pragma once
// The handler interface: what a route's handler sees of one request and how it answers.
//
// A handler runs on the loop thread that owns the connection. It receives the request
// (header + body for body_mode::buffered routes), a request_context (the loop, the remote
// endpoint, per-loop server state) and a move-only responder that it must use exactly once,
// now or later. Work done elsewhere (worker pool) posts its result back to ctx.loop and
// calls the responder there: a responder is never used off its loop thread.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>

#include "runtime/loop/event_loop.hpp"
#include "server/body_reader.hpp"
#include "server/responder.hpp"

namespace nodus::server {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;

struct loop_server_stats;

// How a route takes a request body; decides 100-continue and 413 before any body byte is read.
enum class body_mode {
  none,      // no body: a request with one gets 413 (and 100-continue is never sent)
  buffered,  // the whole body (<= the route's limit) is read before the handler runs
  streamed,  // the handler pulls the body through ctx.body (server/body_reader.hpp)
};

struct route_options {
  body_mode body = body_mode::none;
  // Request body limit in bytes for this route; 0 = the server's --max-body;
  // std::numeric_limits<std::uint64_t>::max() = unlimited (streamed routes).
  std::uint64_t max_body = 0;
};

// Valid only for the duration of the handler call; copy or move out what outlives it.
struct request_context {
  runtime::loop::event_loop& loop;               // the loop this connection belongs to
  const boost::asio::ip::tcp::endpoint& remote;  // the peer
  const loop_server_stats& server_stats;         // per-loop connection/request counters
  // body_mode::streamed routes: the request body; move it out (std::move(*ctx.body)) to
  // keep it past the handler call. Null for other routes.
  body_reader* body = nullptr;
};

// The handler may move from `req`. Stored once per route; invoked through one indirect call.
using handler = std::function<void(request& req, const request_context& ctx, responder res)>;

}  // namespace nodus::server
