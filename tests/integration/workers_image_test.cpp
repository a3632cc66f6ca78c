// POST /image/resize and GET /image/files against the real binary. Inputs are made with
// libvips (tests/runtime/workers/test_images.hpp); outputs are decoded with libvips to check
// their format and dimensions.
#include <catch2/catch.hpp>

#include <tuple>

#include "runtime/workers/vips_runtime.hpp"
#include "tests/integration/workers_support.hpp"
#include "tests/runtime/workers/test_images.hpp"
#include "tests/support/png_header.hpp"

using namespace nodus::testing;
using nodus::test::make_test_file;
using nodus::test::png_declaring;

namespace {

struct decoded {
  std::string loader;
  int width = 0, height = 0;
};

decoded decode(const std::string& bytes) {
  REQUIRE(nodus::runtime::workers::init_vips().empty());
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  REQUIRE(loader != nullptr);
  const auto img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  return {loader, img.width(), img.height()};
}

std::string vips_file(int w, int h, const char* suffix, bool alpha = false) {
  REQUIRE(nodus::runtime::workers::init_vips().empty());
  return make_test_file(w, h, suffix, alpha);
}

const std::vector<std::tuple<std::string, std::string, std::string>> formats{
    {"jpeg", "image/jpeg", "VipsForeignLoadJpegBuffer"},
    {"png", "image/png", "VipsForeignLoadPngBuffer"},
    {"webp", "image/webp", "VipsForeignLoadWebpBuffer"}};

// 640x480 → 200x200, per sharp's definition of each fit.
const std::vector<std::tuple<std::string, int, int>> fits{
    {"cover", 200, 200}, {"contain", 200, 200}, {"fill", 200, 200}, {"inside", 200, 150}, {"outside", 267, 200}};

void check_error(const http_response& res, unsigned status, std::string_view error = {}) {
  INFO(res.body());
  CHECK(res.result_int() == status);
  CHECK(res[http::field::content_type] == "application/json");
  const auto e = json_error(res.body());
  CHECK_FALSE(e.empty());
  if (!error.empty()) CHECK(e == error);
}

}  // namespace

// Every nodus here gets --idle-timeout 60: making test images with libvips between requests
// can take longer than the default 5 s keep-alive timeout on a busy machine.
TEST_CASE("POST /image/resize: every fit mode and output format", "[image]") {
  running_nodus n({"--idle-timeout", "60"});
  http_client c(n.port);
  const std::string jpg = vips_file(640, 480, ".jpg");
  for (const auto& [fit, w, h] : fits) {
    for (const auto& [format, type, loader] : formats) {
      INFO(fit << " → " << format);
      const auto res = c.request(http::verb::post,
                                 "/image/resize?width=200&height=200&fit=" + fit + "&format=" + format, jpg);
      REQUIRE(res.result_int() == 200);
      CHECK(res[http::field::content_type] == type);
      const auto d = decode(res.body());
      CHECK(d.loader == loader);
      CHECK(d.width == w);
      CHECK(d.height == h);
    }
  }
}

TEST_CASE("POST /image/resize: every input format and one-sided sizes", "[image]") {
  running_nodus n({"--idle-timeout", "60"});
  http_client c(n.port);
  for (const char* suffix : {".jpg", ".png", ".webp", ".gif"}) {
    INFO(suffix);
    const std::string in = vips_file(640, 480, suffix, std::string_view(suffix) == ".png");
    auto res = c.request(http::verb::post, "/image/resize?width=320&format=png", in);
    REQUIRE(res.result_int() == 200);
    auto d = decode(res.body());
    CHECK((d.width == 320 && d.height == 240));
    res = c.request(http::verb::post, "/image/resize?height=60&quality=30", in);  // default jpeg
    REQUIRE(res.result_int() == 200);
    CHECK(res[http::field::content_type] == "image/jpeg");
    d = decode(res.body());
    CHECK((d.width == 80 && d.height == 60));
  }
}

TEST_CASE("POST /image/resize: bodies up to --max-image-bytes even above --max-body", "[image]") {
  // The route's own limit is --max-image-bytes; --max-body is for other routes.
  const std::string jpg = vips_file(1600, 1200, ".jpg");
  REQUIRE(jpg.size() > 64 * 1024);
  running_nodus n({"--idle-timeout", "60", "--max-body", "65536"});
  http_client c(n.port);
  const auto res = c.request(http::verb::post, "/image/resize?width=160", jpg);
  INFO(res.body());
  REQUIRE(res.result_int() == 200);
  const auto d = decode(res.body());
  CHECK((d.width == 160 && d.height == 120));
}

TEST_CASE("POST /image/resize: bad parameters are 400 before the body matters", "[image]") {
  running_nodus n({"--idle-timeout", "60"});
  http_client c(n.port);
  const std::string jpg = vips_file(64, 48, ".jpg");
  for (const char* q : {"", "?width=0", "?width=16384", "?height=-3", "?width=abc", "?width=10&quality=0",
                        "?width=10&quality=101", "?width=10&fit=stretch", "?width=10&format=gif",
                        "?width=10&format=tiff"}) {
    INFO(q);
    check_error(c.request(http::verb::post, std::string("/image/resize") + q, jpg), 400);
  }
  CHECK(c.request(http::verb::post, "/image/resize?width=10", jpg).result_int() == 200);  // still usable
}

TEST_CASE("POST /image/resize: not an image / truncated / corrupt / bomb / too big / output too large", "[image]") {
  running_nodus n({"--idle-timeout", "60", "--max-image-bytes", "200000"});
  http_client c(n.port);
  const std::string target = "/image/resize?width=100";
  check_error(c.request(http::verb::post, target, "this is not an image, just text"), 415);
  check_error(c.request(http::verb::post, target, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"/>"), 415);
  for (const char* suffix : {".jpg", ".png", ".gif"}) {
    INFO(suffix);
    const std::string good = vips_file(300, 200, suffix);
    REQUIRE(c.request(http::verb::post, target, good).result_int() == 200);
    check_error(c.request(http::verb::post, target, good.substr(0, good.size() / 2)), 422);
    std::string garbled = good;
    for (std::size_t i = garbled.size() / 3; i < garbled.size(); i += 7) garbled[i] = static_cast<char>(garbled[i] ^ 0x5a);
    check_error(c.request(http::verb::post, target, garbled), 422);
  }
  const std::string bomb = png_declaring(vips_file(4, 4, ".png"), 50000, 50000);
  REQUIRE(bomb.size() < 1000);
  check_error(c.request(http::verb::post, target, bomb), 422, "too_many_pixels");
  // A valid 1 px wide strip asked for a width: 2000 x 8000000 would pin a worker for minutes.
  check_error(c.request(http::verb::post, "/image/resize?width=2000&format=png", vips_file(1, 4000, ".png")), 422,
              "output_too_large");
  CHECK(c.request(http::verb::post, target, vips_file(300, 200, ".webp")).result_int() == 200);
  // Over --max-image-bytes: refused from Content-Length before the body is read (the
  // connection then closes), and from the running count for a chunked body.
  const std::string big = random_bytes(200'001, 3);
  check_error(c.request(http::verb::post, target, big), 413);
  http_client chunked(n.port);
  REQUIRE_FALSE(chunked.write(chunked_request(target, big, 4)));
  check_error(chunked.read(), 413);
  http_client after(n.port);
  CHECK(after.request(http::verb::post, target, random_bytes(200'000, 3)).result_int() == 415);
}

TEST_CASE("GET /image/files: bundled and generated images under --root", "[image]") {
  temp_dir root;
  root.write("big.jpg", vips_file(2000, 1500, ".jpg"));
  root.write("bomb.png", png_declaring(vips_file(4, 4, ".png"), 60000, 60000));
  root.write("text.txt", "hello");
  {
    running_nodus n({"--idle-timeout", "60", "--root", source_dir() + "/public"});
    http_client c(n.port);
    auto res = c.get("/image/files/images/sample-640x480.jpg?width=100&height=100&fit=inside&format=webp");
    REQUIRE(res.result_int() == 200);
    auto d = decode(res.body());
    CHECK((d.loader == "VipsForeignLoadWebpBuffer" && d.width == 100 && d.height == 75));
    res = c.get("/image/files/images/sample-160x100-alpha.png?width=80&format=png");
    REQUIRE(res.result_int() == 200);
    d = decode(res.body());
    CHECK((d.width == 80 && d.height == 50));
    check_error(c.get("/image/files/images/missing.jpg?width=10"), 404, "not_found");
    check_error(c.get("/image/files/images/..%2f..%2fREADME.md?width=10"), 400);
    check_error(c.get("/image/files/images/sample-640x480.jpg?width=0"), 400);
  }
  running_nodus n({"--idle-timeout", "60", "--root", root.path().string(), "--max-image-bytes", "100000"});
  http_client c(n.port);
  check_error(c.get("/image/files/big.jpg?width=10"), 413, "too_large");
  check_error(c.get("/image/files/bomb.png?width=10"), 422);
  check_error(c.get("/image/files/text.txt?width=10"), 415);
}
