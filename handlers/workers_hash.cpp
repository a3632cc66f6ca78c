// POST /hash and GET /hash/files/<path>: digests computed chunk by chunk on the worker pool.
//
// One hasher per request travels through the pool inside the jobs (moved into a job, moved
// back out in its result), so exactly one thread owns it at a time and at most one chunk per
// request is being hashed. The loop only decides what comes next.
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstring>
#include <limits>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "handlers/json_response.hpp"
#include "handlers/query.hpp"
#include "handlers/workers_common.hpp"
#include "runtime/workers/hasher.hpp"

namespace nodus::handlers::detail {

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using server::error_response;
using server::request;
using server::request_context;
using server::responder;
using workers::digest_alg;
using workers::digest_encoding;
using workers::hasher;

struct digest_request {
  digest_alg alg = digest_alg::sha256;
  digest_encoding encoding = digest_encoding::hex;
};

// ?alg= (default sha256) and ?encoding= (default hex); a 400 response when either is bad.
std::optional<server::response> parse_digest_request(const request& req, digest_request& out) {
  const query q(req.target());
  if (!q.valid()) return error_response(http::status::bad_request, "bad_request", "malformed query string");
  if (const auto alg = q.get("alg")) {
    const auto parsed = workers::parse_digest_alg(*alg);
    if (!parsed) {
      std::string list;
      for (const auto name : workers::supported_digest_algs()) {
        if (!list.empty()) list += ", ";
        list += name;
      }
      return error_response(http::status::bad_request, "unsupported_alg",
                            "alg '" + std::string(*alg) + "' is not supported; use one of: " + list);
    }
    out.alg = *parsed;
  }
  if (const auto enc = q.get("encoding")) {
    const auto parsed = workers::parse_digest_encoding(*enc);
    if (!parsed) {
      return error_response(http::status::bad_request, "unsupported_encoding",
                            "encoding '" + std::string(*enc) + "' is not supported; use hex or base64");
    }
    out.encoding = *parsed;
  }
  return std::nullopt;
}

server::response digest_response(digest_alg alg, std::span<const std::uint8_t> digest,
                                 digest_encoding enc, std::uint64_t bytes) {
  return json_response(json::object{{"alg", workers::digest_alg_name(alg)},
                                    {"digest", workers::encode_digest(digest, enc)},
                                    {"bytes", bytes}});
}

// --- GET /hash/files/<path> -----------------------------------------------------------

struct file_hash {
  file_hash(responder r, server::files::unique_fd f, digest_request d)
      : pending(std::make_shared<pending_request>(std::move(r))), fd(std::move(f)), want(d) {}
  std::shared_ptr<pending_request> pending;
  server::files::unique_fd fd;
  digest_request want;
};

// One pool job hashes the file from `offset` (workers::hash_file): to its end while no other
// job waits for the thread, so a request alone on the pool takes one job and no loop round
// trip per MiB; else it stops after a 1 MiB step and the rest is queued here, behind the jobs
// that wait, so a 4 GiB file does not hold a thread others need.
void next_file_job(const std::shared_ptr<file_hash>& st, const workers_env& env,
                   runtime::loop::event_loop& loop, hasher h, std::uint64_t offset) {
  // The fd stays open while `st` lives, and the completion below keeps `st` alive.
  submit_for_request(
      env.pool, loop, workers::job_kind::hash, st->pending,
      [h = std::move(h), fd = st->fd.get(), offset]() mutable {
        return workers::hash_file(std::move(h), fd, offset);
      },
      [st, &env, &loop](workers::file_hash_progress r, responder& res) {
        if (r.error != 0) {
          return res.send(error_response(http::status::internal_server_error, "io_error",
                                         std::string("read failed: ") + std::strerror(r.error)));
        }
        if (!r.h) return res.send(digest_response(st->want.alg, r.digest, st->want.encoding, r.bytes));
        if (!res.connection_alive()) return;
        next_file_job(st, env, loop, std::move(*r.h), r.bytes);
      });
}

void hash_file(const request& req, const request_context& ctx, responder res,
               const std::shared_ptr<const workers_env>& env) {
  digest_request want;
  if (auto bad = parse_digest_request(req, want)) return res.send(std::move(*bad));
  const std::string_view path = after_prefix(req, "/hash/files/");
  auto file = env->files.open(path);
  if (!file) return res.send(file_error_response(file.error(), path));
  auto st = std::make_shared<file_hash>(std::move(res), std::move(file->fd), want);
  cancel_on_disconnect(st->pending);
  // env outlives every loop (register_workers' contract), so the completions may hold it by
  // reference through `*env`.
  next_file_job(st, *env, ctx.loop, hasher(want.alg), 0);
}

// --- POST /hash -----------------------------------------------------------------------

// The body is read (body_reader::read_into: for a Content-Length body, socket reads straight
// into the batch) into batches of this size, each hashed by one pool job, so the loop round
// trip per job stays small next to the hashing. Memory per upload: two batches, one being
// hashed while the other fills.
constexpr std::size_t body_batch_bytes = 1u << 20;

using batch_buffer = std::unique_ptr<char[]>;

struct batch_result {
  std::optional<hasher> h;  // always handed back: the loop finishes or feeds it again
  batch_buffer buffer;      // the batch's storage, for reuse
};

// One upload. Loop thread only, except `h` and the batch being hashed, which belong to the
// job while one runs (job_running): the pool's queue hand-off orders those accesses. The
// batch being filled belongs to the body reader while a read is outstanding (reading).
struct body_hash {
  body_hash(server::body_reader b, responder r, const workers_env& e, runtime::loop::event_loop& l,
            digest_request d)
      : body(std::move(b)), pending(std::make_shared<pending_request>(std::move(r))), env(e), loop(l),
        want(d), h(std::in_place, d.alg), filling(std::make_unique_for_overwrite<char[]>(body_batch_bytes)) {}
  server::body_reader body;
  std::shared_ptr<pending_request> pending;
  const workers_env& env;
  runtime::loop::event_loop& loop;
  digest_request want;
  std::optional<hasher> h;  // empty while a job has it
  batch_buffer filling;     // bytes read, not yet hashed: [0, filled)
  std::size_t filled = 0;
  batch_buffer spare;       // the last batch's buffer, back from the pool
  bool reading = false;
  bool job_running = false;
  bool body_done = false;
  bool stopped = false;     // answered early (503) or the client is gone
};

void pump(const std::shared_ptr<body_hash>& st);

void read_more(const std::shared_ptr<body_hash>& st) {
  st->reading = true;
  const std::size_t room = body_batch_bytes - st->filled;
  st->body.read_into(std::span<char>(st->filling.get() + st->filled, room),
                     [st, room](boost::system::error_code ec, std::size_t n) {
    st->reading = false;
    if (ec) {
      // Client gone, bad framing or the route's limit: the session has answered (or there is
      // nobody to answer); drop any queued batch.
      st->stopped = true;
      st->pending->job.cancel();
      return;
    }
    st->filled += n;
    if (n < room) st->body_done = true;  // read_into stops short only at the end
    pump(st);
  });
}

// Decides the next step: hand a full (or the last) batch to the pool if it is free, finish,
// and keep reading while the batch being filled has room. A full batch with the pool still
// busy on the previous one stops reading: that is the backpressure.
void pump(const std::shared_ptr<body_hash>& st) {
  if (st->stopped) return;
  if (!st->job_running && !st->reading &&
      (st->filled == body_batch_bytes || (st->body_done && st->filled > 0))) {
    st->job_running = true;
    batch_buffer batch = std::exchange(st->filling, std::move(st->spare));
    if (!st->filling) st->filling = std::make_unique_for_overwrite<char[]>(body_batch_bytes);
    const std::size_t size = std::exchange(st->filled, 0);
    const bool accepted = submit_for_request(
        st->env.pool, st->loop, workers::job_kind::hash, st->pending,
        [h = std::move(*st->h), batch = std::move(batch), size]() mutable {
          h.update(std::string_view(batch.get(), size));
          return batch_result{std::move(h), std::move(batch)};
        },
        [st](batch_result r, responder&) {
          st->job_running = false;
          st->h = std::move(r.h);
          st->spare = std::move(r.buffer);
          pump(st);
        });
    st->h.reset();
    if (!accepted) {
      st->stopped = true;  // answered 503; the session closes the connection after it
      return;
    }
  }
  if (st->body_done && !st->job_running && st->filled == 0) {
    const auto digest = st->h->finish();
    st->stopped = true;
    return st->pending->res.send(digest_response(st->want.alg, digest, st->want.encoding, st->h->bytes()));
  }
  if (!st->body_done && !st->reading && st->filled < body_batch_bytes) read_more(st);
}

void hash_body(request& req, const request_context& ctx, responder res, const workers_env& env) {
  digest_request want;
  // Answering without reading: the session never sends 100-continue, closes after the 400.
  if (auto bad = parse_digest_request(req, want)) return res.send(std::move(*bad));
  auto st = std::make_shared<body_hash>(std::move(*ctx.body), std::move(res), env, ctx.loop, want);
  cancel_on_disconnect(st->pending);
  pump(st);
}

}  // namespace

void register_hash(server::router& routes, std::shared_ptr<const workers_env> env) {
  routes.add("/hash", {http::verb::post},
             [env](request& req, const request_context& ctx, responder res) {
               hash_body(req, ctx, std::move(res), *env);
             },
             {server::body_mode::streamed, std::numeric_limits<std::uint64_t>::max()});
  routes.add_prefix("/hash/files/", {http::verb::get},
                    [env](request& req, const request_context& ctx, responder res) {
                      hash_file(req, ctx, std::move(res), env);
                    });
}

}  // namespace nodus::handlers::detail
