// POST /hash and GET /hash/files/<path>: digests computed chunk by chunk on the worker pool.
//
// One hasher per request, owned by one thread at a time, so at most one chunk per request is
// being hashed and chunks are hashed in order. GET /hash/files moves it into each job and back
// out in the result; POST /hash keeps it in the upload's batch_queue, handed between the loop
// and the upload's drain job under the queue's lock. The loop decides what comes next.
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
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
// trip per MiB; else it stops at the first 1 MiB step past its slice (the pool's yield_slice)
// and the rest is queued here, behind the jobs that wait, so a 4 GiB file does not hold a
// thread others need.
void next_file_job(const std::shared_ptr<file_hash>& st, const workers_env& env,
                   runtime::loop::event_loop& loop, hasher h, std::uint64_t offset) {
  // The fd stays open while `st` lives, and the completion below keeps `st` alive.
  submit_for_request(
      env.pool, loop, workers::job_kind::hash, st->pending,
      [h = std::move(h), fd = st->fd.get(), offset]() mutable {
        return workers::hash_file(std::move(h), fd, offset);
      },
      [st, &env, &loop, offset](workers::file_hash_progress r, responder& res) {
        auto& reads = *env.file_reads;
        if (r.error != 0) {
          return res.send(error_response(http::status::internal_server_error, "io_error",
                                         std::string("read failed: ") + std::strerror(r.error)));
        }
        if (r.shrunk) {
          reads.shrunk.fetch_add(1, std::memory_order_relaxed);
          return res.send(error_response(http::status::conflict, "file_changed",
                                         "the file was cut short while it was being hashed; retry"));
        }
        reads.mapped_bytes.fetch_add(r.mapped_bytes, std::memory_order_relaxed);
        reads.pread_bytes.fetch_add(r.bytes - offset - r.mapped_bytes, std::memory_order_relaxed);
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
// into the batch) into batches of this size. Memory per upload: at most body_batches of them
// — the one filling and the ones read but not hashed yet. When none is free, the loop stops
// reading the socket until the drain job hands one back: that is the backpressure.
constexpr std::size_t body_batch_bytes = 1u << 20;
constexpr std::size_t body_batches = 4;
// A loop out of buffers is woken when this many are free again (or the job ends): it then
// refills them from the socket's backlog in one turn, for half the wake-ups — each a post
// across threads and, on a core the loop shares with the pool, a preemption of the job.
constexpr std::size_t wake_when_free = 2;

using batch_buffer = std::unique_ptr<char[]>;

struct batch {
  batch_buffer buffer;
  std::size_t size = 0;
};

// What the loop and an upload's drain job share. The loop queues full batches; one drain job
// at a time hashes them in order, through as many as are queued, so while the socket keeps
// ahead of the hashing a busy upload pays no loop round trip per batch. Lock rule: `m`
// guards every field but `h`; `h` belongs to the drain job while `draining` is set and to
// the loop otherwise (`m` orders the hand-over).
struct batch_queue {
  explicit batch_queue(digest_alg alg) : h(alg) {}
  std::mutex m;
  std::deque<batch> full;          // read, not hashed yet, in body order
  std::vector<batch_buffer> free;  // hashed, for the loop to fill again
  bool draining = false;           // a drain job owns `h` and will take what `full` holds
  bool loop_waits = false;         // the loop has no buffer to read into: call `wake`
  std::function<void()> wake;      // set once before the first job: posts to the loop
  hasher h;
};

// The drain job: hashes queued batches until none is left (then hands `h` back to the loop)
// or the pool wants the thread back (this_job::should_yield(): a job waits and this one has
// run its slice, or the client is gone), after at least one batch, leaving `draining` set for
// the loop to queue the rest.
struct drain_result {
  bool yielded = false;  // for the reader: the completion decides from the queue itself
};

drain_result drain(batch_queue& q) {
  batch b;
  {
    std::lock_guard lock(q.m);
    if (q.full.empty()) {  // not reached: a job is submitted only for a queued batch
      q.draining = false;
      return {};
    }
    b = std::move(q.full.front());
    q.full.pop_front();
  }
  for (;;) {
    q.h.update(std::string_view(b.buffer.get(), b.size));
    const bool yield = workers::this_job::should_yield();
    bool wake = false, done = yield;
    // One critical section per batch: hand the buffer back and take the next batch. The
    // wake-up goes out after it, so a loop that runs at once (on a shared core it preempts
    // this thread) never finds the lock held.
    {
      std::lock_guard lock(q.m);
      q.free.push_back(std::move(b.buffer));
      if (!yield) {
        if (q.full.empty()) {
          q.draining = false;
          done = true;
        } else {
          b = std::move(q.full.front());
          q.full.pop_front();
        }
      }
      if (q.loop_waits && (done || q.free.size() >= wake_when_free)) {
        q.loop_waits = false;
        wake = true;
      }
    }
    if (wake) q.wake();
    if (done) return {yield};
  }
}

// One upload. Loop thread only; what the drain job sees is in `q`. The batch being filled
// belongs to the body reader while a read is outstanding (reading).
struct body_hash {
  body_hash(server::body_reader b, responder r, const workers_env& e, runtime::loop::event_loop& l,
            digest_request d)
      : body(std::move(b)), pending(std::make_shared<pending_request>(std::move(r))), env(e), loop(l),
        want(d), q(std::make_shared<batch_queue>(d.alg)),
        filling(std::make_unique_for_overwrite<char[]>(body_batch_bytes)) {}
  server::body_reader body;
  std::shared_ptr<pending_request> pending;
  const workers_env& env;
  runtime::loop::event_loop& loop;
  digest_request want;
  std::shared_ptr<batch_queue> q;  // shared with the drain job, which may outlive this
  batch_buffer filling;            // bytes read, not queued yet: [0, filled); null: none free
  std::size_t filled = 0;
  std::size_t buffers = 1;         // allocated so far, <= body_batches
  bool reading = false;
  bool job_in_flight = false;      // a drain job submitted, its completion not run yet
  bool body_done = false;
  bool stopped = false;            // answered early (503) or the client is gone
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
      // nobody to answer); stop the drain job after its batch.
      st->stopped = true;
      st->pending->job.cancel();
      return;
    }
    st->filled += n;
    if (n < room) st->body_done = true;  // read_into stops short only at the end
    pump(st);
  });
}

// Submits a drain job; its completion submits the next while batches remain (the job
// yielded, or more were queued after it found none).
void submit_drain(const std::shared_ptr<body_hash>& st) {
  st->job_in_flight = true;
  const bool accepted = submit_for_request(
      st->env.pool, st->loop, workers::job_kind::hash, st->pending,
      [q = st->q] { return drain(*q); },
      [st](drain_result, responder&) {
        st->job_in_flight = false;
        if (st->stopped) return;  // the body failed (client gone) after the job had finished
        bool again = false;
        {
          std::lock_guard lock(st->q->m);
          again = st->q->draining = !st->q->full.empty();
        }
        if (again) return submit_drain(st);
        pump(st);
      });
  if (!accepted) st->stopped = true;  // answered 503; the session closes the connection after it
}

// Decides the next step on the loop: queue a full (or the last) batch, start a drain job if
// none will take it, take a free buffer to read on, finish when everything is hashed.
void pump(const std::shared_ptr<body_hash>& st) {
  if (st->stopped || st->reading) return;
  auto& q = *st->q;
  const bool queue_batch = st->filling && (st->filled == body_batch_bytes || (st->body_done && st->filled > 0));
  bool start_job = false, hashed_all = false;
  {
    std::lock_guard lock(q.m);
    if (queue_batch) {
      q.full.push_back({std::move(st->filling), std::exchange(st->filled, 0)});
      start_job = !q.draining && !st->job_in_flight;
      q.draining = q.draining || start_job;
    }
    if (!st->filling && !st->body_done) {
      if (!q.free.empty()) {
        st->filling = std::move(q.free.back());
        q.free.pop_back();
      } else if (st->buffers == body_batches) {
        q.loop_waits = true;  // the drain job calls q.wake once wake_when_free are free
      }
    }
    hashed_all = st->body_done && st->filled == 0 && !st->job_in_flight && !q.draining && q.full.empty();
  }
  if (start_job) submit_drain(st);
  if (st->stopped) return;
  if (!st->filling && !st->body_done && st->buffers < body_batches) {
    st->filling = std::make_unique_for_overwrite<char[]>(body_batch_bytes);
    ++st->buffers;
  }
  if (hashed_all) {
    const auto digest = q.h.finish();
    st->stopped = true;
    return st->pending->res.send(digest_response(st->want.alg, digest, st->want.encoding, q.h.bytes()));
  }
  if (!st->body_done && st->filling) read_more(st);
}

void hash_body(request& req, const request_context& ctx, responder res, const workers_env& env) {
  digest_request want;
  // Answering without reading: the session never sends 100-continue, closes after the 400.
  if (auto bad = parse_digest_request(req, want)) return res.send(std::move(*bad));
  auto st = std::make_shared<body_hash>(std::move(*ctx.body), std::move(res), env, ctx.loop, want);
  // The wake runs pump on the loop. It holds `st` weakly: a job outliving the upload (its
  // client gone) must not keep the loop's objects alive, nor destroy them on a pool thread.
  st->q->wake = [&loop = ctx.loop, weak = std::weak_ptr<body_hash>(st)] {
    loop.post([weak] {
      if (const auto s = weak.lock()) pump(s);
    });
  };
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
