// The resize pipeline follows sharp's (lib/pipeline.cc): read the header only, pick a
// shrink-on-load factor from the requested size, re-open the input so the decoder produces
// the reduced image, then resize the rest of the way with lanczos3, crop or embed, encode.
// Everything is lazy: pixels are decoded, resized and encoded in one sequential pass inside
// write_to_buffer(), so memory stays a few scanlines wide whatever the input size.
#include "runtime/workers/image_resize.hpp"

#include <vips/vips8>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/workers/vips_runtime.hpp"

namespace nodus::runtime::workers {

namespace {

using vips::VError;
using vips::VImage;

constexpr std::array<std::string_view, 5> fit_names{"cover", "contain", "fill", "inside", "outside"};
constexpr std::array<std::string_view, 3> format_names{"jpeg", "png", "webp"};
constexpr std::array<std::string_view, 3> content_types{"image/jpeg", "image/png", "image/webp"};
constexpr std::array<const char*, 3> save_suffixes{".jpg", ".png", ".webp"};

image_error make_error(image_error_kind kind, std::string error, std::string detail) {
  static constexpr std::array<unsigned, 8> status{0, 400, 413, 415, 422, 422, 422, 500};
  return {kind, status[static_cast<std::size_t>(kind)], std::move(error), std::move(detail)};
}

resize_result failure(image_error e) { return {std::nullopt, std::move(e)}; }

// `what`, then libvips's message for the failure at hand, trimmed, where it gave one (a header
// over its coordinate limit fails without one); clears libvips's error buffer.
std::string with_vips_message(std::string what, const VError& e) {
  std::string s = e.what();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  vips_error_clear();
  return s.empty() ? what : what + ": " + s;
}

std::uint64_t scaled(unsigned n, double scale) noexcept {
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(static_cast<double>(n) * scale)));
}

// The size to resize to before any crop (cover) or embed (contain).
image_size resize_target(unsigned in_w, unsigned in_h, const resize_params& p) noexcept {
  if (p.height == 0) return {p.width, scaled(in_h, double(p.width) / in_w)};
  if (p.width == 0) return {scaled(in_w, double(p.height) / in_h), p.height};
  const double sx = double(p.width) / in_w, sy = double(p.height) / in_h;
  switch (p.fit) {
    case image_fit::fill:
      return {p.width, p.height};
    case image_fit::contain:
    case image_fit::inside:
      return sx <= sy ? image_size{p.width, scaled(in_h, sx)} : image_size{scaled(in_w, sy), p.height};
    case image_fit::cover:
    case image_fit::outside:
      return sx >= sy ? image_size{p.width, scaled(in_h, sx)} : image_size{scaled(in_w, sy), p.height};
  }
  return {p.width, p.height};
}

// Loader class → accepted format (vips_foreign_find_load_buffer's answer).
enum class input_kind { jpeg, png, webp, gif, other };
input_kind classify_loader(std::string_view loader) noexcept {
  if (loader == "VipsForeignLoadJpegBuffer") return input_kind::jpeg;
  if (loader == "VipsForeignLoadPngBuffer") return input_kind::png;
  if (loader == "VipsForeignLoadWebpBuffer") return input_kind::webp;
  if (loader == "VipsForeignLoadNsgifBuffer") return input_kind::gif;
  return input_kind::other;
}

vips::VOption* load_options() {
  return VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_WARNING);
}

// Opens `input` again so the decoder itself reduces by about `factor` (>= 1). JPEG's DCT
// scaling takes 2, 4 or 8 (the largest not above the factor, as sharp's default
// fastShrinkOnLoad); WebP takes any scale; PNG and GIF decode at full size.
VImage open_shrunk(std::span<const std::uint8_t> input, input_kind kind, double factor, VImage header) {
  if (kind == input_kind::jpeg) {
    const int shrink = factor >= 8 ? 8 : factor >= 4 ? 4 : factor >= 2 ? 2 : 1;
    if (shrink == 1) return header;
    return VImage::new_from_buffer(input.data(), input.size(), "", load_options()->set("shrink", shrink));
  }
  if (kind == input_kind::webp && factor >= 2) {
    const double scale = 1.0 / std::floor(factor);
    return VImage::new_from_buffer(input.data(), input.size(), "", load_options()->set("scale", scale));
  }
  return header;
}

// Resizes `img` to exactly `to`, in premultiplied alpha where there is alpha (as sharp does,
// so transparent pixels' colours do not bleed into the edges).
VImage resize_exact(VImage img, image_size to) {
  if (img.interpretation() != VIPS_INTERPRETATION_sRGB && img.interpretation() != VIPS_INTERPRETATION_B_W)
    img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  if (unsigned(img.width()) == to.width && unsigned(img.height()) == to.height) return img;
  const double hscale = double(to.width) / img.width(), vscale = double(to.height) / img.height();
  const bool alpha = img.has_alpha();
  if (alpha) img = img.premultiply();
  img = img.resize(hscale, VImage::option()->set("vscale", vscale)->set("kernel", VIPS_KERNEL_LANCZOS3));
  if (alpha) img = img.unpremultiply().cast(VIPS_FORMAT_UCHAR);
  return img;
}

VImage fit_to_box(VImage img, const resize_params& p, image_size out) {
  const int w = img.width(), h = img.height();
  if (p.width == 0 || p.height == 0) return img;
  if (p.fit == image_fit::cover && (unsigned(w) != out.width || unsigned(h) != out.height))
    return img.extract_area((w - int(out.width)) / 2, (h - int(out.height)) / 2, int(out.width), int(out.height));
  if (p.fit == image_fit::contain && (unsigned(w) != out.width || unsigned(h) != out.height)) {
    std::vector<double> background(img.bands(), 0.0);
    if (img.has_alpha()) background.back() = 255.0;  // opaque black, sharp's default
    return img.embed((int(out.width) - w) / 2, (int(out.height) - h) / 2, int(out.width), int(out.height),
                     VImage::option()->set("extend", VIPS_EXTEND_BACKGROUND)->set("background", background));
  }
  return img;
}

std::string encode(VImage img, const resize_params& p) {
  auto* opts = VImage::option()->set("keep", VIPS_FOREIGN_KEEP_NONE);
  switch (p.format) {
    case image_format::jpeg:
      opts->set("Q", int(p.quality))->set("optimize_coding", true);
      break;
    case image_format::png:
      opts->set("compression", 6);
      break;
    case image_format::webp:
      opts->set("Q", int(p.quality))->set("effort", 4);
      break;
  }
  void* buf = nullptr;
  std::size_t size = 0;
  img.write_to_buffer(save_suffixes[static_cast<std::size_t>(p.format)], &buf, &size, opts);
  std::string out(static_cast<const char*>(buf), size);
  g_free(buf);
  return out;
}

std::string size_text(std::uint64_t w, std::uint64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

// Before any pixel is decoded: the output must be within the pixel budget and the output
// format's side limit, and the resize (before a crop) within what libvips can resize to. An
// input of extreme aspect asked for a width would otherwise mean millions of rows: 1x4000 to
// width 2000 is 2000x8000000, minutes of one worker's time (and a JPEG or WebP that fails only
// after decoding).
std::optional<image_error> check_output(unsigned in_w, unsigned in_h, image_size target, image_size out,
                                        const resize_params& p, const resize_limits& limits) {
  const auto refuse = [&](std::string why) {
    return make_error(image_error_kind::output_too_large, "output_too_large",
                      "resizing " + size_text(in_w, in_h) + " (fit=" + std::string(image_fit_name(p.fit)) +
                          ") gives " + size_text(out.width, out.height) + ", " + std::move(why));
  };
  // Upscaling runs through affine, whose output coordinates are fixed point (INT_MAX / 64,
  // ~33.5M; its window needs a little more), below libvips's image size limit (100M).
  constexpr std::uint64_t affine_limit = std::numeric_limits<int>::max() / VIPS_TRANSFORM_SCALE - 1024;
  const std::uint64_t max_coord = std::min<std::uint64_t>(vips_max_coord_get(), affine_limit);
  if (std::max(target.width, target.height) > max_coord)
    return refuse("via " + size_text(target.width, target.height) + ", over libvips's resize limit of " +
                  std::to_string(max_coord) + " pixels a side");
  static constexpr std::array<std::uint64_t, 3> max_side{65500, 0, 16383};  // libjpeg's and libwebp's; PNG: none
  const std::uint64_t side = max_side[static_cast<std::size_t>(p.format)];
  if (side != 0 && std::max(out.width, out.height) > side)
    return refuse("over " + std::string(image_format_name(p.format)) + "'s limit of " + std::to_string(side) +
                  " pixels a side");
  if (out.width * out.height > limits.max_input_pixels)
    return refuse("over the limit of " + std::to_string(limits.max_input_pixels) + " pixels");
  return std::nullopt;
}

}  // namespace

std::optional<image_fit> parse_image_fit(std::string_view s) noexcept {
  for (std::size_t i = 0; i < fit_names.size(); ++i)
    if (fit_names[i] == s) return static_cast<image_fit>(i);
  return std::nullopt;
}

std::optional<image_format> parse_image_format(std::string_view s) noexcept {
  if (s == "jpg") return image_format::jpeg;
  for (std::size_t i = 0; i < format_names.size(); ++i)
    if (format_names[i] == s) return static_cast<image_format>(i);
  return std::nullopt;
}

std::string_view image_fit_name(image_fit f) noexcept { return fit_names[static_cast<std::size_t>(f)]; }
std::string_view image_format_name(image_format f) noexcept { return format_names[static_cast<std::size_t>(f)]; }
std::string_view content_type(image_format f) noexcept { return content_types[static_cast<std::size_t>(f)]; }

std::optional<image_error> validate(const resize_params& p, const resize_limits& limits) {
  const auto bad = [](std::string detail) { return make_error(image_error_kind::bad_params, "bad_params", std::move(detail)); };
  const std::string range = "1.." + std::to_string(limits.max_dimension);
  if (p.width == 0 && p.height == 0) return bad("width or height is required (" + range + ")");
  if (p.width > limits.max_dimension) return bad("width must be in " + range);
  if (p.height > limits.max_dimension) return bad("height must be in " + range);
  if (p.quality < 1 || p.quality > 100) return bad("quality must be in 1..100");
  if (std::uint64_t(p.width) * p.height > limits.max_input_pixels)
    return bad("width x height must not exceed " + std::to_string(limits.max_input_pixels) + " pixels");
  return std::nullopt;
}

image_size output_size(unsigned in_w, unsigned in_h, const resize_params& p) noexcept {
  if (p.width != 0 && p.height != 0 && (p.fit == image_fit::cover || p.fit == image_fit::contain))
    return {p.width, p.height};
  return resize_target(in_w, in_h, p);
}

resize_result resize_image(std::span<const std::uint8_t> input, const resize_params& p,
                           const resize_limits& limits) {
  if (const auto& why = init_vips(); !why.empty())
    return failure(make_error(image_error_kind::internal, "image_library_unavailable", why));
  if (auto e = validate(p, limits)) return failure(std::move(*e));
  if (input.size() > limits.max_input_bytes)
    return failure(make_error(image_error_kind::too_large, "image_too_large",
                              "the image is over " + std::to_string(limits.max_input_bytes) + " bytes"));

  const char* loader = vips_foreign_find_load_buffer(input.data(), input.size());
  const input_kind kind = loader != nullptr ? classify_loader(loader) : input_kind::other;
  if (kind == input_kind::other) {
    vips_error_clear();
    return failure(make_error(image_error_kind::unsupported, "unsupported_image",
                              "the body is not a JPEG, PNG, WebP or GIF image"));
  }

  try {
    VImage header;
    try {
      header = VImage::new_from_buffer(input.data(), input.size(), "", load_options());
    } catch (const VError& e) {
      return failure(make_error(image_error_kind::corrupt, "corrupt_image",
                                with_vips_message("cannot read the image header", e)));
    }
    const unsigned in_w = header.width(), in_h = header.height();
    // Decompression bombs: refused on the declared size, before any pixel is decoded.
    if (std::uint64_t(in_w) * in_h > limits.max_input_pixels)
      return failure(make_error(image_error_kind::too_many_pixels, "too_many_pixels",
                                size_text(in_w, in_h) + " is over the limit of " +
                                    std::to_string(limits.max_input_pixels) + " pixels"));

    const image_size target = resize_target(in_w, in_h, p);
    const image_size out = output_size(in_w, in_h, p);
    if (auto e = check_output(in_w, in_h, target, out, p, limits)) return failure(std::move(*e));
    const double factor =
        std::max(1.0, std::min(double(in_w) / double(target.width), double(in_h) / double(target.height)));
    try {
      VImage img = open_shrunk(input, kind, factor, header);
      img = fit_to_box(resize_exact(img, target), p, out);
      std::string bytes = encode(img, p);
      return {resized_image{std::move(bytes), p.format, content_type(p.format), unsigned(img.width()),
                            unsigned(img.height())},
              {}};
    } catch (const VError& e) {
      return failure(make_error(image_error_kind::corrupt, "corrupt_image",
                                with_vips_message("cannot decode the image", e)));
    }
  } catch (const std::exception& e) {
    return failure(make_error(image_error_kind::internal, "image_failed", e.what()));
  }
}

}  // namespace nodus::runtime::workers
