// POST /image/resize and GET /image/files/<path>: libvips resize on the worker pool.
//
// The 400s (parameters) are decided on the loop before anything is queued; the 413 for the
// input size before the job too (Content-Length / file size); everything that needs the
// image bytes (415, 422, decompression bombs) inside the job, by resize_image().
#include <boost/beast/http/field.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "handlers/query.hpp"
#include "handlers/workers_common.hpp"

namespace nodus::handlers::detail {

namespace {

namespace http = boost::beast::http;
using server::error_response;
using server::request;
using server::request_context;
using server::responder;
using workers::resize_params;

std::string joined(std::initializer_list<std::string_view> names) {
  std::string out;
  for (const auto n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// width, height, fit, format, quality from the query; a 400 response when one is bad.
std::optional<server::response> parse_resize(const request& req, const workers::resize_limits& limits,
                                             resize_params& p) {
  const auto bad = [](std::string detail) {
    return error_response(http::status::bad_request, "bad_params", detail);
  };
  const query q(req.target());
  if (!q.valid()) return bad("malformed query string");
  std::string why;
  const std::int64_t max_dim = limits.max_dimension;
  const auto width = int_param(q, "width", 0, 1, max_dim, why);
  if (!width) return bad(why);
  const auto height = int_param(q, "height", 0, 1, max_dim, why);
  if (!height) return bad(why);
  const auto quality = int_param(q, "quality", 80, 1, 100, why);
  if (!quality) return bad(why);
  p.width = static_cast<unsigned>(*width);
  p.height = static_cast<unsigned>(*height);
  p.quality = static_cast<unsigned>(*quality);
  if (const auto fit = q.get("fit")) {
    const auto parsed = workers::parse_image_fit(*fit);
    if (!parsed) {
      return bad("fit '" + std::string(*fit) + "' is not one of: " +
                 joined({"cover", "contain", "fill", "inside", "outside"}));
    }
    p.fit = *parsed;
  }
  if (const auto format = q.get("format")) {
    const auto parsed = workers::parse_image_format(*format);
    if (!parsed) return bad("format '" + std::string(*format) + "' is not one of: jpeg, png, webp");
    p.format = *parsed;
  }
  if (auto err = workers::validate(p, limits)) {
    return error_response(static_cast<http::status>(err->http_status), err->error, err->detail);
  }
  return std::nullopt;
}

server::response too_large(std::uint64_t size, std::uint64_t limit) {
  return error_response(http::status::payload_too_large, "too_large",
                        "image is " + std::to_string(size) + " bytes; the limit (--max-image-bytes) is " +
                            std::to_string(limit));
}

server::response image_response(workers::resize_result r) {
  if (!r.ok()) {
    return error_response(static_cast<http::status>(r.error.http_status), r.error.error, r.error.detail);
  }
  server::response out{http::status::ok, 11};
  out.set(http::field::content_type, r.image->content_type);
  out.set("X-Image-Width", std::to_string(r.image->width));
  out.set("X-Image-Height", std::to_string(r.image->height));
  out.body() = std::move(r.image->bytes);
  return out;
}

// Reads the whole (size-checked) file on the pool thread; short reads are retried.
std::optional<std::string> read_file(int fd, std::uint64_t size, int& error) {
  std::string bytes(size, '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      return std::nullopt;
    }
    if (n == 0) break;  // shrank under us: resize what is there (a truncated image is a 422)
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

void resize_submit(const request_context& ctx, const workers_env& env,
                   const std::shared_ptr<pending_request>& p, auto job) {
  cancel_on_disconnect(p);
  submit_for_request(env.pool, ctx.loop, workers::job_kind::image, p, std::move(job),
                     [](workers::resize_result r, responder& out) { out.send(image_response(std::move(r))); });
}

// The route's body limit is --max-image-bytes (route_options::max_body), whatever --max-body
// says: a declared Content-Length above it gets the session's 413 before any byte is read; a
// chunked body that grows past it, the session's 413 as it crosses the limit.
void resize_body(request& req, const request_context& ctx, responder res, const workers_env& env) {
  resize_params p;
  if (auto bad = parse_resize(req, env.image_limits, p)) return res.send(std::move(*bad));
  if (req.body().size() > env.image_limits.max_input_bytes) {
    return res.send(too_large(req.body().size(), env.image_limits.max_input_bytes));
  }
  auto pending = std::make_shared<pending_request>(std::move(res));
  resize_submit(ctx, env, pending, [body = std::move(req.body()), p, limits = env.image_limits] {
    return workers::resize_image(body, p, limits);
  });
}

void resize_file(const request& req, const request_context& ctx, responder res, const workers_env& env) {
  resize_params p;
  if (auto bad = parse_resize(req, env.image_limits, p)) return res.send(std::move(*bad));
  const std::string_view path = after_prefix(req, "/image/files/");
  auto file = env.files.open(path);
  if (!file) return res.send(file_error_response(file.error(), path));
  const auto size = static_cast<std::uint64_t>(file->st.st_size);
  if (size > env.image_limits.max_input_bytes) {
    return res.send(too_large(size, env.image_limits.max_input_bytes));
  }
  auto pending = std::make_shared<pending_request>(std::move(res));
  auto fd = std::make_shared<server::files::unique_fd>(std::move(file->fd));
  resize_submit(ctx, env, pending, [fd, size, p, limits = env.image_limits] {
    int error = 0;
    const auto bytes = read_file(fd->get(), size, error);
    if (!bytes) {
      workers::resize_result r;
      r.error = {workers::image_error_kind::internal, 500, "io_error",
                 std::string("read failed: ") + std::strerror(error)};
      return r;
    }
    return workers::resize_image(*bytes, p, limits);
  });
}

}  // namespace

void register_image(server::router& routes, std::shared_ptr<const workers_env> env) {
  routes.add("/image/resize", {http::verb::post},
             [env](request& req, const request_context& ctx, responder res) {
               resize_body(req, ctx, std::move(res), *env);
             },
             {server::body_mode::buffered, env->image_limits.max_input_bytes});
  routes.add_prefix("/image/files/", {http::verb::get},
                    [env](request& req, const request_context& ctx, responder res) {
                      resize_file(req, ctx, std::move(res), *env);
                    });
}

}  // namespace nodus::handlers::detail
