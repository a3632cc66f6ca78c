#pragma once
// Internals shared by the worker-pool endpoints (handlers/workers*.cpp): the per-server
// environment, the 503 for a full queue, and submit_for_request(), which ties one pool job
// to one request (a client disconnect cancels the job; the completion answers on the loop).
#include <boost/beast/http/status.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/workers/image_resize.hpp"
#include "runtime/workers/worker_pool.hpp"
#include "server/error_response.hpp"
#include "server/files/path_resolver.hpp"
#include "server/handler.hpp"
#include "server/router.hpp"

namespace nodus::handlers::detail {

namespace workers = runtime::workers;

// How GET /hash/files read its files, for /debug/workers: bytes hashed through a mapping or
// pread (workers::hash_file falls back to pread for small or sparse files, and when the SIGBUS
// handler is not in place), and files cut short while hashed (answered 409). Updated by the
// completions on any loop: relaxed atomics, counts only.
struct file_read_counters {
  std::atomic<std::uint64_t> mapped_bytes{0};
  std::atomic<std::uint64_t> pread_bytes{0};
  std::atomic<std::uint64_t> shrunk{0};
};

// Built once at start-up, then read-only from every loop (the pool itself is thread-safe;
// so are the counters).
struct workers_env {
  workers::worker_pool& pool;
  server::files::path_resolver files;   // --root, opened once
  workers::resize_limits image_limits;  // --max-image-bytes, --max-image-pixels
  std::unique_ptr<file_read_counters> file_reads = std::make_unique<file_read_counters>();
};

// 503 + Retry-After for a job the pool did not take (queue full, or shutting down).
server::response rejected_response(const workers::worker_pool& pool, workers::submit_status why);

// The 4xx/5xx for a path under --root that path_resolver refused.
server::response file_error_response(server::files::resolve_error e, std::string_view url_path);

// `url_path` minus `prefix` ("/hash/files/a.txt" → "a.txt"); the router guarantees the prefix.
std::string_view after_prefix(const server::request& req, std::string_view prefix) noexcept;

// One request waiting for one job. Loop thread only.
struct pending_request {
  explicit pending_request(server::responder r) : res(std::move(r)) {}
  server::responder res;
  workers::job_handle job;
};

// Arms `p`: a client disconnect cancels whatever job p->job names at that moment.
void cancel_on_disconnect(const std::shared_ptr<pending_request>& p);

// Submits `job` for the request `p` answers; `done(outcome, responder&)` runs on the loop
// unless the job was cancelled (client gone: nobody to answer). A rejected submission is
// answered 503 here. Returns whether the pool took the job.
template <class Job, class Done>
bool submit_for_request(workers::worker_pool& pool, runtime::loop::event_loop& loop,
                        workers::job_kind kind, const std::shared_ptr<pending_request>& p,
                        Job&& job, Done&& done) {
  auto sub = pool.submit(
      kind, std::forward<Job>(job),
      [p, done = std::forward<Done>(done)](auto outcome) mutable {
        p->job = {};
        if (outcome.status == workers::job_status::cancelled) return;  // client gone (or stop)
        if (outcome.status == workers::job_status::failed) {
          return p->res.send(server::error_response(
              boost::beast::http::status::internal_server_error, "job_failed", outcome.error));
        }
        done(std::move(*outcome.value), p->res);
      },
      loop);
  if (!sub.accepted()) {
    p->res.send(rejected_response(pool, sub.status));
    return false;
  }
  p->job = std::move(sub.handle);
  return true;
}

// The routes of each endpoint family (workers_hash.cpp, workers_image.cpp).
void register_hash(server::router& routes, std::shared_ptr<const workers_env> env);
void register_image(server::router& routes, std::shared_ptr<const workers_env> env);

}  // namespace nodus::handlers::detail
