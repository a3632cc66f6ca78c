#include "handlers/heap_snapshot.hpp"

#include "handlers/demo_leak.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/system/errc.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>

#include "handlers/demo_leak.hpp"
#include "handlers/query.hpp"
#include "runtime/heap/heap.hpp"
#include "runtime/heap/heap_snapshot.hpp"
#include "server/body_writer.hpp"
#include "server/error_response.hpp"

namespace nodus::handlers {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using runtime::heap::heap_snapshot_writer;
using server::error_response;

namespace {

constexpr std::chrono::seconds stall_timeout{30};

// Loop k's live writers by stream id. A per-isolate state: it dies with the isolate, before
// the heap, so no writer outlives the heap whose GC it defers.
struct snapshot_streams {
  explicit snapshot_streams(isolate&) {}
  std::unordered_map<std::uint64_t, std::unique_ptr<heap_snapshot_writer>> writers;
  std::uint64_t next_id = 1;
};

struct piece {
  std::string data;
  bool more = false;
  bool ok = true;
};

// On loop k: the next piece of stream `id`; the writer goes once it is done or broken.
piece produce(isolate& iso, std::uint64_t id) {
  auto& streams = iso.state<snapshot_streams>();
  const auto it = streams.writers.find(id);
  if (it == streams.writers.end()) return {{}, false, false};
  piece p;
  try {
    p.more = it->second->next(p.data);
  } catch (const std::bad_alloc&) {
    p.ok = false;
  }
  if (it->second->failed()) {
    spdlog::error("heap snapshot of loop {}: the written counts do not match, response aborted", iso.loop.index());
    p.ok = false;
  }
  if (!p.more || !p.ok) streams.writers.erase(it);
  return p;
}

void release(const isolate_registry& isolates, unsigned loop, std::uint64_t id) {
  isolates.post(loop, [id](isolate& iso) { iso.state<snapshot_streams>().writers.erase(id); });
}

// Chunked transfer of a snapshot written on loop `loop` to a socket of loop `origin` (the two
// may be the same): ask loop k for a piece, write it, ask again — one piece in flight, so the
// socket's pace is the writer's. Callbacks cross loops through the registry, which drops them
// when a loop is gone; a stall timer fails the response after 30 s without progress.
struct stream_op : std::enable_shared_from_this<stream_op> {
  stream_op(net::ip::tcp::socket& s, const isolate_registry& r, unsigned l, unsigned o, std::uint64_t i,
            server::body_writer::done_handler d)
      : socket(s), timer(s.get_executor()), isolates(r), loop(l), origin(o), id(i), done(std::move(d)) {}

  void request() {
    arm();
    const isolate_registry* registry = &isolates;
    const bool posted = isolates.post(loop, [self = weak_from_this(), registry, origin = origin, id = id](isolate& iso) {
      piece p = produce(iso, id);
      registry->post(origin, [self, p](isolate&) {
        if (auto op = self.lock()) op->on_piece(p);
      });
    });
    if (!posted) finish(net::error::operation_aborted);
  }

  void on_piece(const piece& p) {
    if (finished) return;
    if (!p.ok) return finish(boost::system::errc::make_error_code(boost::system::errc::io_error));
    data = p.data;
    last = !p.more;
    auto on_written = [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); };
    arm();
    if (data.empty()) {
      if (!last) return request();
      return net::async_write(socket, http::make_chunk_last(), std::move(on_written));
    }
    net::async_write(socket, http::make_chunk(net::buffer(data)), std::move(on_written));
  }

  void on_write(error_code ec) {
    if (timed_out) ec = net::error::timed_out;
    if (ec) return finish(ec);
    bytes += data.size();
    if (!last) return request();
    if (!data.empty()) {
      data.clear();
      arm();
      return net::async_write(socket, http::make_chunk_last(), [self = shared_from_this()](error_code e, std::size_t) {
        self->finish(self->timed_out ? net::error::timed_out : e);
      });
    }
    finish({});
  }

  void arm() {
    timer.expires_after(stall_timeout);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->finished) return;
      self->timed_out = true;
      error_code ignored;
      self->socket.cancel(ignored);
      self->finish(net::error::timed_out);
    });
  }

  void finish(error_code ec) {
    if (finished) return;
    finished = true;
    timer.cancel();
    if (ec) release(isolates, loop, id);  // the writer may still be there: let loop k's GC resume
    if (auto d = std::move(done)) d(ec, bytes);
  }

  net::ip::tcp::socket& socket;
  net::steady_timer timer;
  const isolate_registry& isolates;
  unsigned loop;
  unsigned origin;
  std::uint64_t id;
  server::body_writer::done_handler done;
  std::string data;
  std::uint64_t bytes = 0;
  bool last = false;
  bool timed_out = false;
  bool finished = false;
};

class snapshot_body final : public server::body_writer {
 public:
  snapshot_body(const isolate_registry& isolates, unsigned loop, unsigned origin, std::uint64_t id)
      : isolates_(isolates), loop_(loop), origin_(origin), id_(id) {}
  ~snapshot_body() override {
    if (!started_) release(isolates_, loop_, id_);  // HEAD, or the client left before the body
  }
  void async_write(net::ip::tcp::socket& socket, done_handler done) override {
    started_ = true;
    std::make_shared<stream_op>(socket, isolates_, loop_, origin_, id_, std::move(done))->request();
  }

 private:
  const isolate_registry& isolates_;
  unsigned loop_;
  unsigned origin_;
  std::uint64_t id_;
  bool started_ = false;
};

std::string file_name(unsigned loop) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  return "nodus-" + std::to_string(::getpid()) + "-" + std::to_string(loop) + "-" + stamp + ".heapsnapshot";
}

// What loop k answers when asked to start a stream.
struct started {
  std::uint64_t id = 0;
  http::status status = http::status::ok;
  std::string error;
  std::string detail;
};

started start(isolate& iso) {
  auto& streams = iso.state<snapshot_streams>();
  if (streams.writers.size() >= max_snapshots_per_loop) {
    return {0, http::status::service_unavailable, "busy",
            "loop " + std::to_string(iso.loop.index()) + " is already streaming " +
                std::to_string(max_snapshots_per_loop) + " snapshots"};
  }
  try {
    const auto begin = std::chrono::steady_clock::now();
    runtime::heap::snapshot_options options;
    // The closures nodus builds are the leak demos' (handlers/demo_leak): name them as the
    // JavaScript functions they stand for, so DevTools shows "onData", not "function 2".
    options.closure_name = [](std::uint64_t function_id) {
      const std::string_view known = demo_leak_function_name(function_id);
      return known.empty() ? "function " + std::to_string(function_id) : std::string(known);
    };
    auto writer = std::make_unique<heap_snapshot_writer>(iso.heap, options);  // GC + index: synchronous
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - begin;
    const auto m = writer->memory();
    spdlog::info("heap snapshot of loop {}: {} nodes, {} edges, {} bytes of objects, index {} KiB, prepared in {:.1f} ms",
                 iso.loop.index(), writer->node_count(), writer->edge_count(), writer->total_self_size(),
                 m.index_bytes / 1024, took.count());
    const std::uint64_t id = streams.next_id++;
    streams.writers.emplace(id, std::move(writer));
    return {id, http::status::ok, {}, {}};
  } catch (const std::exception& e) {
    return {0, http::status::insufficient_storage, "out_of_memory",
            std::string("cannot index the heap for a snapshot: ") + e.what()};
  }
}

void heap_snapshot(const isolate_registry& isolates, const server::request& req, const server::request_context& ctx,
                   server::responder res) {
  const query q(req.target());
  const unsigned origin = ctx.loop.index();
  const std::string serving = std::to_string(origin);
  const auto param = q.valid() ? q.get("loop") : std::nullopt;
  const auto which = select_loops(isolates, param ? param : std::optional<std::string_view>(serving));
  if (!q.valid() || !which || which->size() != 1) {
    return res.send(error_response(http::status::bad_request, "bad_request",
                                   "loop must be an index from 0 to " + std::to_string(isolates.size() - 1)));
  }
  const unsigned loop = which->front();
  auto shared = std::make_shared<server::responder>(std::move(res));
  const isolate_registry* registry = &isolates;
  const bool posted = isolates.post(loop, [shared, registry, loop, origin](isolate& iso) {
    started s = start(iso);
    const bool back = registry->post(origin, [shared, registry, loop, origin, s](isolate&) {
      if (s.id == 0) {
        auto r = error_response(s.status, s.error, s.detail);
        if (s.status == http::status::service_unavailable) r.set(http::field::retry_after, "5");
        return shared->send(std::move(r));
      }
      server::response_header h;
      h.result(http::status::ok);
      h.set(http::field::content_type, "application/json");
      h.set(http::field::content_disposition, "attachment; filename=" + file_name(loop));
      h.set(http::field::cache_control, "no-store");
      h.set(http::field::transfer_encoding, "chunked");
      shared->send(std::move(h), std::make_unique<snapshot_body>(*registry, loop, origin, s.id));
    });
    if (!back && s.id != 0) iso.state<snapshot_streams>().writers.erase(s.id);
  });
  if (!posted) {
    shared->send(error_response(http::status::service_unavailable, "shutting_down", "the loop is stopping"));
  }
}

}  // namespace

void register_heap_snapshot(server::router& routes, const isolate_registry& isolates) {
  routes.add("/debug/heap/snapshot", {http::verb::get},
             [&isolates](server::request& req, const server::request_context& ctx, server::responder res) {
               heap_snapshot(isolates, req, ctx, std::move(res));
             });
}

}  // namespace nodus::handlers
