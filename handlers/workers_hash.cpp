// POST /hash and GET /hash/files/<path>: digests computed chunk by chunk on the worker pool.
//
// One hasher per request travels through the pool inside the jobs (moved into a job, moved
// back out in its result), so exactly one thread owns it at a time and at most one chunk per
// request is being hashed. The loop only decides what comes next.
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
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

// A file is read and hashed this much per job: large enough that the loop round trip per
// chunk (~10 us) is noise next to hashing it (~0.5 ms at 2 GB/s), small enough that other
// requests' jobs interleave with a big file's.
constexpr std::size_t file_chunk_bytes = 1u << 20;

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

struct file_chunk_result {
  std::optional<hasher> h;             // back to the loop for the next chunk; empty at the end
  std::vector<std::uint8_t> digest;    // set at end of file
  std::uint64_t bytes = 0;             // hashed so far
  int error = 0;                       // errno of a failed pread
};

// Reads [offset, offset + file_chunk_bytes) with pread into a per-thread buffer and feeds it;
// a short read means end of file (regular files), which finishes the digest.
file_chunk_result hash_file_chunk(hasher h, int fd, std::uint64_t offset) {
  thread_local std::vector<std::byte> buffer(file_chunk_bytes);
  std::size_t got = 0;
  file_chunk_result r;
  while (got < buffer.size()) {
    const ssize_t n = ::pread(fd, buffer.data() + got, buffer.size() - got,
                              static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = errno;
      return r;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  h.update(std::span<const std::byte>(buffer.data(), got));
  r.bytes = h.bytes();
  if (got < buffer.size()) {
    r.digest = h.finish();
  } else {
    r.h.emplace(std::move(h));
  }
  return r;
}

struct file_hash {
  file_hash(responder r, server::files::unique_fd f, digest_request d)
      : pending(std::make_shared<pending_request>(std::move(r))), fd(std::move(f)), want(d) {}
  std::shared_ptr<pending_request> pending;
  server::files::unique_fd fd;
  digest_request want;
};

void next_file_chunk(const std::shared_ptr<file_hash>& st, const workers_env& env,
                     runtime::loop::event_loop& loop, hasher h, std::uint64_t offset) {
  // The fd stays open while `st` lives, and the completion below keeps `st` alive.
  submit_for_request(
      env.pool, loop, workers::job_kind::hash, st->pending,
      [h = std::move(h), fd = st->fd.get(), offset]() mutable {
        return hash_file_chunk(std::move(h), fd, offset);
      },
      [st, &env, &loop](file_chunk_result r, responder& res) {
        if (r.error != 0) {
          return res.send(error_response(http::status::internal_server_error, "io_error",
                                         std::string("read failed: ") + std::strerror(r.error)));
        }
        if (!r.h) return res.send(digest_response(st->want.alg, r.digest, st->want.encoding, r.bytes));
        if (!res.connection_alive()) return;
        next_file_chunk(st, env, loop, std::move(*r.h), r.bytes);
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
  next_file_chunk(st, *env, ctx.loop, hasher(want.alg), 0);
}

// --- POST /hash -----------------------------------------------------------------------

struct body_hash_result {
  std::vector<std::uint8_t> digest;
  std::uint64_t bytes = 0;
};

// INTERIM (until body_mode::streamed lands in server/): the body is buffered by the session
// (so it is bounded by --max-body) and hashed by one pool job.
void hash_body(request& req, const request_context& ctx, responder res, const workers_env& env) {
  digest_request want;
  if (auto bad = parse_digest_request(req, want)) return res.send(std::move(*bad));
  auto p = std::make_shared<pending_request>(std::move(res));
  cancel_on_disconnect(p);
  submit_for_request(
      env.pool, ctx.loop, workers::job_kind::hash, p,
      [body = std::move(req.body()), alg = want.alg] {
        hasher h(alg);
        h.update(std::string_view(body));
        return body_hash_result{h.finish(), h.bytes()};
      },
      [want](body_hash_result r, responder& out) {
        out.send(digest_response(want.alg, r.digest, want.encoding, r.bytes));
      });
}

}  // namespace

void register_hash(server::router& routes, std::shared_ptr<const workers_env> env) {
  routes.add("/hash", {http::verb::post},
             [env](request& req, const request_context& ctx, responder res) {
               hash_body(req, ctx, std::move(res), *env);
             },
             {server::body_mode::buffered});
  routes.add_prefix("/hash/files/", {http::verb::get},
                    [env](request& req, const request_context& ctx, responder res) {
                      hash_file(req, ctx, std::move(res), env);
                    });
}

}  // namespace nodus::handlers::detail
