// Images are generated here with libvips; outputs are decoded again and their format and
// size checked against sharp's definitions of the fit modes (expected sizes written out by
// hand, not computed by the code under test).
#include "runtime/workers/image_resize.hpp"

#include <catch2/catch.hpp>

#include <zlib.h>

#include <thread>
#include <tuple>
#include <vector>

#include "runtime/workers/vips_runtime.hpp"
#include "tests/runtime/workers/test_images.hpp"

// Under -fsanitize=thread: libvips (a prebuilt, uninstrumented library) synchronises its own
// threads with glib's futex-based locks, which TSan cannot see, so malloc/free inside it look
// racy. Ignore interceptor calls made from inside libvips; everything in nodus stays checked.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libvips-cpp.so.8.18.7\n";
}

namespace w = nodus::runtime::workers;
using nodus::test::make_test_file;
using vips::VImage;

namespace {

struct decoded {
  std::string loader;
  int width = 0, height = 0, bands = 0;
};

decoded decode(const std::string& bytes) {
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  REQUIRE(loader != nullptr);
  VImage img = VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  return {loader, img.width(), img.height(), img.bands()};
}

const char* loader_for(w::image_format f) {
  switch (f) {
    case w::image_format::jpeg: return "VipsForeignLoadJpegBuffer";
    case w::image_format::png: return "VipsForeignLoadPngBuffer";
    case w::image_format::webp: return "VipsForeignLoadWebpBuffer";
  }
  return "";
}

w::resize_result resize(const std::string& in, w::resize_params p, w::resize_limits l = {}) {
  return w::resize_image(in, p, l);
}

void require_error(const w::resize_result& r, w::image_error_kind kind, unsigned status) {
  INFO(r.error.error << ": " << r.error.detail);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error.kind == kind);
  CHECK(r.error.http_status == status);
  CHECK_FALSE(r.error.error.empty());
  CHECK_FALSE(r.error.detail.empty());
}

struct vips_ready {
  vips_ready() { REQUIRE(w::init_vips().empty()); }
};

// A PNG's IHDR rewritten to declare w x h (CRC recomputed), the rest left as it was.
std::string png_declaring(std::string png, std::uint32_t wd, std::uint32_t ht) {
  // signature (8) + length (4) + "IHDR" (4) + width (4) + height (4)
  REQUIRE(png.substr(12, 4) == "IHDR");
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<char>(wd >> (24 - 8 * i));
    png[20 + i] = static_cast<char>(ht >> (24 - 8 * i));
  }
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
  return png;
}

// A JPEG's SOF0 rewritten to declare w x h.
std::string jpeg_declaring(std::string jpg, std::uint16_t wd, std::uint16_t ht) {
  const auto sof = jpg.find("\xFF\xC0");
  REQUIRE(sof != std::string::npos);
  jpg[sof + 5] = static_cast<char>(ht >> 8), jpg[sof + 6] = static_cast<char>(ht & 0xff);
  jpg[sof + 7] = static_cast<char>(wd >> 8), jpg[sof + 8] = static_cast<char>(wd & 0xff);
  return jpg;
}

}  // namespace

TEST_CASE("image_resize: parsing names") {
  CHECK(w::parse_image_fit("cover") == w::image_fit::cover);
  CHECK(w::parse_image_fit("outside") == w::image_fit::outside);
  CHECK_FALSE(w::parse_image_fit("stretch"));
  CHECK(w::parse_image_format("jpg") == w::image_format::jpeg);
  CHECK(w::parse_image_format("webp") == w::image_format::webp);
  CHECK_FALSE(w::parse_image_format("gif"));
  CHECK(w::content_type(w::image_format::png) == "image/png");
  CHECK(w::image_fit_name(w::image_fit::contain) == "contain");
}

TEST_CASE("image_resize: bad params are 400, checked before the input") {
  const w::resize_limits l;
  CHECK(w::validate({.width = 0, .height = 0}, l)->http_status == 400);
  CHECK(w::validate({.width = 16384}, l)->http_status == 400);
  CHECK(w::validate({.height = 20000}, l)->http_status == 400);
  CHECK(w::validate({.width = 10, .quality = 0}, l)->http_status == 400);
  CHECK(w::validate({.width = 10, .quality = 101}, l)->http_status == 400);
  CHECK(w::validate({.width = 3000, .height = 3000}, {.max_input_pixels = 1'000'000})->http_status == 400);
  CHECK_FALSE(w::validate({.width = 16383, .quality = 1}, l));
  vips_ready v;
  const std::string jpg = make_test_file(64, 48, ".jpg");
  require_error(resize(jpg, {.width = 100, .quality = 0}), w::image_error_kind::bad_params, 400);
  // bad params win over a bad body: the handler can answer before reading it
  require_error(resize("not an image", {}), w::image_error_kind::bad_params, 400);
}

TEST_CASE("image_resize: every input format x fit x output format") {
  vips_ready v;
  // 640x480 → 200x200: the expected sizes per sharp's fit definitions.
  const std::vector<std::tuple<w::image_fit, int, int>> fits{
      {w::image_fit::cover, 200, 200},   {w::image_fit::contain, 200, 200}, {w::image_fit::fill, 200, 200},
      {w::image_fit::inside, 200, 150},  {w::image_fit::outside, 267, 200}};
  for (const char* in_suffix : {".jpg", ".png", ".webp", ".gif"}) {
    const std::string input = make_test_file(640, 480, in_suffix);
    for (const auto& [fit, ew, eh] : fits) {
      for (auto fmt : {w::image_format::jpeg, w::image_format::png, w::image_format::webp}) {
        INFO(in_suffix << " fit=" << w::image_fit_name(fit) << " → " << w::image_format_name(fmt));
        auto r = resize(input, {.width = 200, .height = 200, .fit = fit, .format = fmt, .quality = 75});
        INFO(r.error.detail);
        REQUIRE(r.ok());
        CHECK(r.image->content_type == w::content_type(fmt));
        const decoded d = decode(r.image->bytes);
        CHECK(d.loader == loader_for(fmt));
        CHECK(d.width == ew);
        CHECK(d.height == eh);
        CHECK(r.image->width == unsigned(ew));
        CHECK(r.image->height == unsigned(eh));
        CHECK(w::output_size(640, 480, {.width = 200, .height = 200, .fit = fit}) == w::image_size{unsigned(ew), unsigned(eh)});
      }
    }
  }
}

TEST_CASE("image_resize: one dimension keeps the aspect ratio, upscaling, extreme aspect") {
  vips_ready v;
  const std::string jpg = make_test_file(640, 480, ".jpg");
  struct tcase { unsigned w, h; w::image_fit fit; int ew, eh; };
  for (auto c : {tcase{320, 0, w::image_fit::cover, 320, 240}, tcase{0, 120, w::image_fit::fill, 160, 120},
                 tcase{1280, 0, w::image_fit::inside, 1280, 960}, tcase{333, 0, w::image_fit::cover, 333, 250}}) {
    auto r = resize(jpg, {.width = c.w, .height = c.h, .fit = c.fit});
    REQUIRE(r.ok());
    const decoded d = decode(r.image->bytes);
    CHECK(d.width == c.ew);
    CHECK(d.height == c.eh);
  }
  const std::string strip = make_test_file(1000, 10, ".png");
  for (auto c : {tcase{50, 50, w::image_fit::cover, 50, 50}, tcase{50, 50, w::image_fit::inside, 50, 1},
                 tcase{50, 50, w::image_fit::outside, 5000, 50}, tcase{50, 50, w::image_fit::contain, 50, 50}}) {
    INFO(w::image_fit_name(c.fit));
    auto r = resize(strip, {.width = c.w, .height = c.h, .fit = c.fit, .format = w::image_format::png});
    REQUIRE(r.ok());
    const decoded d = decode(r.image->bytes);
    CHECK(d.width == c.ew);
    CHECK(d.height == c.eh);
  }
}

TEST_CASE("image_resize: shrink-on-load sizes are exact (JPEG 1/2..1/8, WebP scale)") {
  vips_ready v;
  for (const char* suffix : {".jpg", ".webp"}) {
    const std::string big = make_test_file(4000, 3000, suffix);
    for (unsigned width : {2000u, 1999u, 800u, 499u, 300u, 97u}) {
      INFO(suffix << " → " << width);
      auto r = resize(big, {.width = width, .format = w::image_format::jpeg});
      REQUIRE(r.ok());
      const decoded d = decode(r.image->bytes);
      CHECK(d.width == int(width));
      CHECK(d.height == int(std::lround(width * 0.75)));
    }
  }
}

TEST_CASE("image_resize: contain letterboxes with opaque black, alpha survives to PNG") {
  vips_ready v;
  const std::string rgba = make_test_file(400, 200, ".png", /*alpha=*/true);
  auto r = resize(rgba, {.width = 100, .height = 100, .fit = w::image_fit::contain, .format = w::image_format::png});
  REQUIRE(r.ok());
  VImage out = VImage::new_from_buffer(r.image->bytes.data(), r.image->bytes.size(), "");
  REQUIRE(out.bands() == 4);
  CHECK(out.width() == 100);
  CHECK(out.height() == 100);
  const std::vector<double> corner = out.getpoint(0, 0);  // letterbox: top band of 25 rows
  CHECK(corner == std::vector<double>{0, 0, 0, 255});
  const std::vector<double> middle = out.getpoint(50, 50);  // image: alpha ~ 0.5*x + 127
  CHECK(middle[3] > 100);
  CHECK(middle[3] < 255);
}

TEST_CASE("image_resize: not an image or a refused format → 415") {
  vips_ready v;
  const w::resize_params p{.width = 100};
  require_error(resize("", p), w::image_error_kind::unsupported, 415);
  require_error(resize("hello, world", p), w::image_error_kind::unsupported, 415);
  require_error(resize("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>", p),
                w::image_error_kind::unsupported, 415);
  // libvips (this build) reads TIFF and AVIF, but nodus accepts JPEG, PNG, WebP and GIF only.
  require_error(resize(make_test_file(32, 32, ".tif"), p), w::image_error_kind::unsupported, 415);
  require_error(resize(make_test_file(32, 32, ".avif"), p), w::image_error_kind::unsupported, 415);
}

TEST_CASE("image_resize: truncated or corrupt → 422") {
  vips_ready v;
  const w::resize_params p{.width = 100};
  for (const char* suffix : {".jpg", ".png", ".webp", ".gif"}) {
    INFO(suffix);
    const std::string good = make_test_file(300, 200, suffix);
    REQUIRE(resize(good, p).ok());
    require_error(resize(good.substr(0, good.size() / 2), p), w::image_error_kind::corrupt, 422);
    if (std::string_view(suffix) == ".webp") continue;  // lossy VP8 data has no checksum to fail
    std::string garbled = good;
    for (std::size_t i = garbled.size() / 3; i < garbled.size(); i += 7) garbled[i] = static_cast<char>(garbled[i] ^ 0x5a);
    require_error(resize(garbled, p), w::image_error_kind::corrupt, 422);
  }
  const std::string png = make_test_file(300, 200, ".png");
  require_error(resize(png.substr(0, 20), p), w::image_error_kind::corrupt, 422);  // header cut short
}

TEST_CASE("image_resize: input over max_input_bytes → 413") {
  vips_ready v;
  const std::string jpg = make_test_file(300, 200, ".jpg");
  require_error(resize(jpg, {.width = 10}, {.max_input_bytes = jpg.size() - 1}), w::image_error_kind::too_large, 413);
  CHECK(resize(jpg, {.width = 10}, {.max_input_bytes = jpg.size()}).ok());
}

TEST_CASE("image_resize: decompression bombs → 422 from the header alone") {
  vips_ready v;
  const w::resize_params p{.width = 100};
  // Tiny files declaring 50000x50000 (2.5 Gpixel): refused as too_many_pixels, which only the
  // header check reports (decoding them would fail as corrupt instead).
  const std::string png_bomb = png_declaring(make_test_file(4, 4, ".png"), 50000, 50000);
  const std::string jpg_bomb = jpeg_declaring(make_test_file(16, 16, ".jpg"), 50000, 50000);
  CHECK(png_bomb.size() < 1000);
  require_error(resize(png_bomb, p), w::image_error_kind::too_many_pixels, 422);
  require_error(resize(jpg_bomb, p), w::image_error_kind::too_many_pixels, 422);
  // A real image just over a lowered limit, and just within it.
  const std::string jpg = make_test_file(1000, 1000, ".jpg");
  require_error(resize(jpg, p, {.max_input_pixels = 999'999}), w::image_error_kind::too_many_pixels, 422);
  CHECK(resize(jpg, p, {.max_input_pixels = 1'000'000}).ok());
}

TEST_CASE("image_resize: concurrent resizes on several threads") {
  vips_ready v;
  const std::string jpg = make_test_file(1200, 900, ".jpg");
  const std::string png = make_test_file(600, 400, ".png", true);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto r = w::resize_image(t % 2 ? jpg : png, {.width = 150u + unsigned(i), .height = 100, .fit = w::image_fit::cover,
                                                     .format = t % 2 ? w::image_format::webp : w::image_format::png});
        ok[std::size_t(t)] += r.ok() && r.image->width == 150u + unsigned(i) && r.image->height == 100;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{5, 5, 5, 5});
}
