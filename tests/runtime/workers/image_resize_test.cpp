// Images are generated here with libvips; outputs are decoded again and their format and
// size checked against sharp's definitions of the fit modes (expected sizes written out by
// hand, not computed by the code under test).
#include "runtime/workers/image_resize.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "runtime/workers/vips_runtime.hpp"
#include "tests/runtime/workers/test_images.hpp"
#include "tests/support/png_header.hpp"

// Under -fsanitize=thread: libvips (a prebuilt, uninstrumented library) synchronises its own
// threads with glib's futex-based locks, which TSan cannot see, so malloc/free inside it look
// racy. Ignore interceptor calls made from inside libvips; everything in nodus stays checked.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libvips-cpp.so.8.18.7\n";
}

namespace w = nodus::runtime::workers;
using nodus::test::make_test_file;
using nodus::test::png_declaring;
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

// A JPEG's SOF0 rewritten to declare w x h.
std::string jpeg_declaring(std::string jpg, std::uint16_t wd, std::uint16_t ht) {
  const auto sof = jpg.find("\xFF\xC0");
  REQUIRE(sof != std::string::npos);
  jpg[sof + 5] = static_cast<char>(ht >> 8), jpg[sof + 6] = static_cast<char>(ht & 0xff);
  jpg[sof + 7] = static_cast<char>(wd >> 8), jpg[sof + 8] = static_cast<char>(wd & 0xff);
  return jpg;
}

// A GIF's logical screen and first frame rewritten to declare w x h (libnsgif takes the
// frame's size where the screen's looks bogus).
std::string gif_declaring(std::string gif, std::uint16_t wd, std::uint16_t ht) {
  REQUIRE(gif.substr(0, 6) == "GIF89a");
  const auto put = [&](std::size_t at) {
    gif[at] = static_cast<char>(wd & 0xff), gif[at + 1] = static_cast<char>(wd >> 8);
    gif[at + 2] = static_cast<char>(ht & 0xff), gif[at + 3] = static_cast<char>(ht >> 8);
  };
  put(6);
  const auto flags = static_cast<unsigned char>(gif[10]);
  std::size_t at = 13 + ((flags & 0x80) != 0 ? 3u << ((flags & 7) + 1) : 0);
  while (at < gif.size() && gif[at] == 0x21) {  // extensions: label, then sub-blocks up to a 0
    at += 2;
    while (at < gif.size() && gif[at] != 0) at += 1 + static_cast<unsigned char>(gif[at]);
    ++at;
  }
  REQUIRE(at + 9 <= gif.size());
  REQUIRE(gif[at] == 0x2C);  // the image descriptor: left, top, width, height
  put(at + 5);
  return gif;
}

// A WebP rewritten to declare w x h (each at most 16383, VP8's limit) in every chunk that
// says it: the VP8X canvas (24-bit, minus one) and the lossy frame's 14-bit size.
std::string webp_declaring(std::string webp, std::uint32_t wd, std::uint32_t ht) {
  REQUIRE(webp.substr(8, 4) == "WEBP");
  REQUIRE(wd < (1u << 14));
  REQUIRE(ht < (1u << 14));
  const auto put = [&](std::size_t at, std::uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) webp[at + std::size_t(i)] = static_cast<char>(v >> (8 * i));
  };
  bool frame = false;
  for (std::size_t at = 12; at + 8 <= webp.size();) {  // chunks: fourcc, LE size, data (padded to even)
    const std::string fourcc = webp.substr(at, 4);
    std::uint32_t size = 0;
    for (int i = 3; i >= 0; --i) size = size << 8 | static_cast<unsigned char>(webp[at + 4 + std::size_t(i)]);
    if (fourcc == "VP8X") put(at + 12, wd - 1, 3), put(at + 15, ht - 1, 3);
    if (fourcc == "VP8 ") put(at + 14, wd, 2), put(at + 16, ht, 2), frame = true;  // after tag (3) and start code (3)
    at += 8 + size + (size & 1);
  }
  REQUIRE(frame);
  return webp;
}

bool small_scale() {
  const char* s = std::getenv("NODUS_TEST_SCALE");
  return s != nullptr && std::string_view(s) == "small";
}

// One random change of the kinds a broken upload or a hostile client produces: flipped bits,
// overwritten or inserted runs, a cut, a repeated range, or the header's size rewritten.
std::string mutate(std::string in, std::string_view suffix, std::mt19937& rng) {
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  const auto byte = [&] { return static_cast<char>(pick(256)); };
  const auto dim = [&] { return static_cast<std::uint16_t>(1 + pick(pick(2) ? 16383 : 64)); };
  switch (pick(7)) {
    case 0:  // bit flips
      for (std::size_t n = 1 + pick(8); n > 0; --n) in[pick(in.size())] ^= static_cast<char>(1u << pick(8));
      break;
    case 1: {  // a run overwritten, often in the header where the parsers branch
      const std::size_t at = pick(2) ? pick(std::min<std::size_t>(in.size(), 64)) : pick(in.size());
      for (std::size_t i = at, end = std::min(in.size(), at + 1 + pick(16)); i < end; ++i) in[i] = byte();
      break;
    }
    case 2: {  // bytes inserted
      std::string run(1 + pick(32), '\0');
      for (char& c : run) c = byte();
      in.insert(pick(in.size() + 1), run);
      break;
    }
    case 3:  // a range removed
      in.erase(pick(in.size()), 1 + pick(in.size() / 4 + 1));
      break;
    case 4:  // cut short
      in.resize(pick(in.size()));
      break;
    case 5: {  // a range repeated
      const std::size_t at = pick(in.size()), len = 1 + pick(std::min<std::size_t>(in.size() - at, 512));
      in.insert(pick(in.size() + 1), in.substr(at, len));
      break;
    }
    default:  // the declared size rewritten: up to 16383 x 16383, where the pixel limit bites
      if (suffix == ".png") in = png_declaring(std::move(in), dim(), dim());
      if (suffix == ".jpg") in = jpeg_declaring(std::move(in), dim(), dim());
      if (suffix == ".gif") in = gif_declaring(std::move(in), dim(), dim());
      if (suffix == ".webp") in = webp_declaring(std::move(in), dim(), dim());
      break;
  }
  return in;
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
  require_error(resize(gif_declaring(make_test_file(16, 16, ".gif"), 50000, 50000), p),
                w::image_error_kind::too_many_pixels, 422);
  // WebP cannot declare more than 16383 x 16383, sharp's default limit itself: lowered here.
  for (const bool alpha : {false, true}) {
    INFO("webp alpha " << alpha);
    const std::string webp_bomb = webp_declaring(make_test_file(16, 16, ".webp", alpha), 16383, 16383);
    require_error(resize(webp_bomb, p, {.max_input_pixels = 16383u * 16383u - 1}),
                  w::image_error_kind::too_many_pixels, 422);
  }
  // A real image just over a lowered limit, and just within it.
  const std::string jpg = make_test_file(1000, 1000, ".jpg");
  require_error(resize(jpg, p, {.max_input_pixels = 999'999}), w::image_error_kind::too_many_pixels, 422);
  CHECK(resize(jpg, p, {.max_input_pixels = 1'000'000}).ok());
}

TEST_CASE("image_resize: outputs over the limits → 422 before decoding") {
  vips_ready v;
  // A 1 px wide strip: asked for a width, its height follows the aspect ratio.
  const std::string strip = make_test_file(1, 4000, ".png");
  const auto refused = [](const w::resize_result& r, std::string_view says) {
    require_error(r, w::image_error_kind::output_too_large, 422);
    CHECK(r.error.error == "output_too_large");
    CHECK_THAT(r.error.detail, Catch::Contains(std::string(says)));
  };
  // 2000 x 8000000: 16 Gpixel of PNG, minutes of a worker's time before the check.
  refused(resize(strip, {.width = 2000, .format = w::image_format::png}),
          "resizing 1x4000 (fit=cover) gives 2000x8000000, over the limit of 268402689 pixels");
  refused(resize(strip, {.width = 20, .height = 10, .fit = w::image_fit::outside}), "over jpeg's limit of 65500");
  refused(resize(strip, {.width = 5, .format = w::image_format::webp}), "5x20000, over webp's limit of 16383");
  // Just inside each limit.
  const auto r = resize(strip, {.width = 5, .format = w::image_format::png});
  REQUIRE(r.ok());
  CHECK(decode(r.image->bytes).width == 5);
  CHECK(decode(r.image->bytes).height == 20000);
  CHECK(resize(make_test_file(1, 3276, ".png"), {.width = 5, .format = w::image_format::webp}).ok());  // 5 x 16380
  refused(resize(make_test_file(100, 100, ".png"), {.width = 200, .format = w::image_format::png},
                 {.max_input_pixels = 39'999}),
          "200x200, over the limit of 39999 pixels");
  CHECK(resize(make_test_file(100, 100, ".png"), {.width = 200, .format = w::image_format::png},
               {.max_input_pixels = 40'000})
            .ok());
  // cover's resize before the crop, though the output is small: a valid 1x9000 strip covering
  // 5000x1 is resized to 5000x45000000 first, more rows than libvips's affine can address.
  refused(resize(make_test_file(1, 9000, ".png"), {.width = 5000, .height = 1, .format = w::image_format::png}),
          "via 5000x45000000, over libvips's resize limit of 33553407 pixels a side");
  const auto inside_limit = resize(strip, {.width = 8000, .height = 1, .format = w::image_format::png});  // 8000x32M
  REQUIRE(inside_limit.ok());
  CHECK(decode(inside_limit.image->bytes).width == 8000);
  // Declared 1 x 9000000 (libvips reads headers up to 100000000 a side): cover's resize, and a
  // one-sided width, would need more rows than 32 bits can count.
  const std::string tall = png_declaring(make_test_file(4, 4, ".png"), 1, 9'000'000);
  refused(resize(tall, {.width = 100, .height = 100}), "via 100x900000000, over libvips's resize limit");
  refused(resize(tall, {.width = 16383, .format = w::image_format::png}), "16383x147447000000");
  // Past libvips's limit the header itself is refused, libvips giving no reason of its own.
  const auto r_huge = resize(png_declaring(make_test_file(4, 4, ".png"), 1, 200'000'000), {.width = 100});
  require_error(r_huge, w::image_error_kind::corrupt, 422);
  CHECK(r_huge.error.detail == "cannot read the image header");
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

TEST_CASE("image_resize: mutated inputs get an image or a clear 4xx, never a crash or a 500") {
  vips_ready v;
  // A lowered pixel limit, so headers rewritten to large sizes are refused quickly rather than
  // decoded for seconds (the size mutation spans both sides of it).
  const w::resize_limits limits{.max_input_pixels = 1u << 22};
  const int per_input = small_scale() ? 60 : 250;
  const std::uint32_t seed = 20261207;
  CAPTURE(seed);
  std::mt19937 rng(seed);
  int images = 0, refused = 0;
  for (const char* suffix : {".jpg", ".png", ".webp", ".gif"}) {
    for (const bool alpha : {false, true}) {
      if (alpha && std::string_view(suffix) == ".jpg") continue;
      const std::string good = make_test_file(120, 90, suffix, alpha);
      for (int i = 0; i < per_input; ++i) {
        const std::string bad = mutate(good, suffix, rng);
        const auto format = static_cast<w::image_format>(i % 3);
        const w::resize_params p{.width = 40, .height = 30, .fit = static_cast<w::image_fit>(i % 5), .format = format};
        INFO(suffix << (alpha ? " alpha" : "") << " mutation " << i << ", " << bad.size() << " bytes");
        const w::resize_result r = resize(bad, p, limits);
        if (r.ok()) {
          ++images;
          const decoded out = decode(r.image->bytes);
          CHECK(out.loader == loader_for(format));
          CHECK(unsigned(out.width) == r.image->width);
          CHECK(unsigned(out.height) == r.image->height);
          const VImage header = VImage::new_from_buffer(bad.data(), bad.size(), "");
          CHECK(w::output_size(unsigned(header.width()), unsigned(header.height()), p) ==
                w::image_size{r.image->width, r.image->height});
          continue;
        }
        ++refused;
        INFO(r.error.error << ": " << r.error.detail);
        const auto kind = r.error.kind;
        CHECK((kind == w::image_error_kind::unsupported || kind == w::image_error_kind::corrupt ||
               kind == w::image_error_kind::too_many_pixels || kind == w::image_error_kind::output_too_large));
        CHECK(r.error.http_status == (kind == w::image_error_kind::unsupported ? 415u : 422u));
        CHECK_FALSE(r.error.error.empty());
        CHECK_FALSE(r.error.detail.empty());
      }
    }
  }
  // Both outcomes occur: the mutations reach the decoders, not only the format sniffing.
  CHECK(images > per_input);
  CHECK(refused > per_input);
}
