#include "handlers/files.hpp"

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <string>

#include "handlers/query.hpp"
#include "server/body_writer.hpp"
#include "server/error_response.hpp"
#include "server/files/file_response.hpp"
#include "server/files/mime_types.hpp"
#include "server/files/path_resolver.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
namespace files = server::files;
using server::request;
using server::request_context;
using server::responder;

namespace {
constexpr std::int64_t max_stream_bytes = std::int64_t{64} << 30;
constexpr std::int64_t max_stream_chunk = 1 << 20;
constexpr std::int64_t default_stream_chunk = 64 << 10;

// A '%' not followed by two hex digits: the target is malformed (400), not hostile (403).
bool bad_percent_encoding(std::string_view path) {
  const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') continue;
    if (i + 2 >= path.size() || !hex(path[i + 1]) || !hex(path[i + 2])) return true;
  }
  return false;
}

// The generated stream's alphabet, long enough for any chunk at any phase.
const std::string& stream_pattern() {
  static const std::string p = [] {
    std::string s(static_cast<std::size_t>(max_stream_chunk) + 26, '\0');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
  }();
  return p;
}
}  // namespace

class files_endpoints {
 public:
  explicit files_endpoints(const config::config& cfg)
      : resolver_(cfg.root), stats_(std::max(1u, cfg.loops) + 1) {}

  // `url_path`: the request path after the route prefix ("/files/a/b" → "a/b").
  void serve_file(const request& req, std::string_view url_path, const request_context& ctx,
                  responder res) const;
  void serve_stream(const request& req, const request_context& ctx, responder res) const;
  file_stats& stats(unsigned loop) const { return stats_[std::min<std::size_t>(loop, stats_.size() - 1)]; }

 private:
  files::path_resolver resolver_;
  files::mime_types mime_;
  // One per loop (index), written only by that loop's thread; deque: stable addresses.
  mutable std::deque<file_stats> stats_;
};

void files_endpoints::serve_file(const request& req, std::string_view url_path,
                                 const request_context& ctx, responder res) const {
  if (bad_percent_encoding(url_path)) {
    return res.send(server::error_response(http::status::bad_request, "bad_request",
                                           "malformed percent-encoding in the path"));
  }
  auto file = resolver_.open(url_path);
  if (!file) {
    const std::string shown(server::target_path(req.target()));  // as the client wrote it
    switch (file.error()) {
      case files::resolve_error::bad_path:
      case files::resolve_error::forbidden:
        return res.send(server::error_response(http::status::forbidden, "forbidden",
                                               "path refused: " + shown));
      case files::resolve_error::not_found:
        return res.send(server::error_response(http::status::not_found, "not_found",
                                               "no file at " + shown));
      case files::resolve_error::io_error:
        return res.send(server::error_response(http::status::internal_server_error, "io_error",
                                               "cannot open " + shown));
    }
  }
  const files::file_request fr{
      req.method() == http::verb::head, req[http::field::range], req[http::field::if_none_match],
      req[http::field::if_modified_since], req[http::field::if_range]};
  files::file_plan plan =
      files::plan_file_response(fr, file->st, mime_.lookup(file->relative_path));
  server::response_header header;
  header.result(plan.status);
  for (const auto& f : plan.headers) header.set(f.name_string(), f.value());
  if (plan.length == 0) return res.send(std::move(header), nullptr);

  file_stats& st = stats(ctx.loop.index());
  auto observer = [&st, path = file->relative_path](boost::system::error_code ec, std::uint64_t sent) {
    st.file_bytes_sent += sent;
    if (!ec) {
      ++st.files_served;
    } else if (ec == boost::asio::error::eof ||
               ec == boost::system::errc::file_too_large) {
      ++st.file_truncations;
      spdlog::warn("file {} shrank while being sent ({} bytes sent)", path, sent);
    } else {
      ++st.file_aborts;
    }
  };
  res.send(std::move(header),
           std::make_unique<server::file_body_writer>(std::move(file->fd), plan.offset,
                                                      plan.length, files::file_send_options{},
                                                      std::move(observer)));
}

void files_endpoints::serve_stream(const request& req, const request_context& ctx,
                                   responder res) const {
  const query q(req.target());
  std::string error;
  const auto bytes = int_param(q, "bytes", -1, 0, max_stream_bytes, error);
  const auto chunk = int_param(q, "chunk", default_stream_chunk, 1, max_stream_chunk, error);
  if (!q.valid() || !bytes || !chunk || *bytes < 0) {
    if (error.empty()) error = "bytes (0 to " + std::to_string(max_stream_bytes) + ") is required";
    return res.send(server::error_response(http::status::bad_request, "bad_request", error));
  }
  server::response_header header;
  header.result(http::status::ok);
  header.set(http::field::content_type, "text/plain; charset=utf-8");
  header.set(http::field::transfer_encoding, "chunked");
  file_stats& st = stats(ctx.loop.index());
  auto generator = [left = static_cast<std::uint64_t>(*bytes), pos = std::uint64_t{0},
                    size = static_cast<std::uint64_t>(*chunk)](std::string& out) mutable {
    if (left == 0) return false;
    const std::uint64_t n = std::min(left, size);
    out.assign(stream_pattern(), static_cast<std::size_t>(pos % 26), static_cast<std::size_t>(n));
    left -= n;
    pos += n;
    return true;
  };
  auto observer = [&st](boost::system::error_code ec, std::uint64_t sent) {
    st.stream_bytes_sent += sent;
    ec ? ++st.stream_aborts : ++st.streams_served;
  };
  res.send(std::move(header),
           std::make_unique<server::chunked_body_writer>(std::move(generator),
                                                         std::chrono::seconds(30),
                                                         std::move(observer)));
}

std::shared_ptr<const files_endpoints> register_files(server::router& routes,
                                                      const config::config& cfg) {
  auto ep = std::make_shared<const files_endpoints>(cfg);
  const server::method_set get{http::verb::get};
  routes.add_prefix("/files/", get, [ep](request& req, const request_context& ctx, responder res) {
    const std::string_view path = server::target_path(req.target()).substr(7);  // "/files/"
    ep->serve_file(req, path, ctx, std::move(res));
  });
  // The bundled site: "/" → index.html, "/nodus.png", ...; exact routes win over it.
  routes.add_prefix("/", get, [ep](request& req, const request_context& ctx, responder res) {
    const std::string_view path = server::target_path(req.target()).substr(1);
    ep->serve_file(req, path, ctx, std::move(res));
  });
  routes.add("/stream", get, [ep](request& req, const request_context& ctx, responder res) {
    ep->serve_stream(req, ctx, std::move(res));
  });
  return ep;
}

const file_stats& stats_of(const files_endpoints& endpoints, unsigned loop_index) {
  return endpoints.stats(loop_index);
}

}  // namespace nodus::handlers
