#pragma once
// resize_image: the image job of POST /image/resize. Input bytes + params → output bytes, with
// libvips and shrink-on-load as sharp does it. Runs on a pool thread; pure function of its
// arguments (libvips's settings come from init_vips(), which it calls).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nodus::runtime::workers {

// As sharp defines them (sharp.pixelplumbing.com/api-resize):
//  cover   keep aspect, cover both dimensions, crop the overflow (centre)
//  contain keep aspect, fit within both, letterbox to exactly width x height (black / opaque)
//  fill    ignore aspect, stretch to exactly width x height
//  inside  keep aspect, as large as possible with both dimensions <= the requested ones
//  outside keep aspect, as small as possible with both dimensions >= the requested ones
// With only one of width/height given, the other follows the aspect ratio, whatever the fit.
enum class image_fit : std::uint8_t { cover, contain, fill, inside, outside };
enum class image_format : std::uint8_t { jpeg, png, webp };

std::optional<image_fit> parse_image_fit(std::string_view s) noexcept;
std::optional<image_format> parse_image_format(std::string_view s) noexcept;  // jpeg|jpg|png|webp
std::string_view image_fit_name(image_fit f) noexcept;
std::string_view image_format_name(image_format f) noexcept;
std::string_view content_type(image_format f) noexcept;  // "image/jpeg", ...

struct resize_params {
  unsigned width = 0;   // 0 = follow height's scale; at least one of width/height is > 0
  unsigned height = 0;
  image_fit fit = image_fit::cover;
  image_format format = image_format::jpeg;
  unsigned quality = 80;  // 1..100; JPEG and WebP (PNG is lossless: ignored)
};

struct resize_limits {
  std::uint64_t max_input_bytes = 32u << 20;   // --max-image-bytes: 413 above
  std::uint64_t max_input_pixels = 0x3FFFull * 0x3FFF;  // --max-image-pixels (sharp's default): input and output
  unsigned max_dimension = 16383;              // of the requested width/height (400 above)
};

enum class image_error_kind : std::uint8_t {
  none,
  bad_params,       // 400
  too_large,        // 413: input bytes over the limit
  unsupported,      // 415: not an image, or a format nodus does not accept
  corrupt,          // 422: truncated or corrupt (header or pixel data)
  too_many_pixels,  // 422: header declares more pixels than allowed; pixels never decoded
  output_too_large, // 422: the output (or the resize before a crop) would be over the limits
  internal,         // 500: libvips failed on valid input (out of memory, init failure)
};

struct image_error {
  image_error_kind kind = image_error_kind::none;
  unsigned http_status = 0;  // what the handler answers
  std::string error;         // short, stable: the JSON "error" field
  std::string detail;        // human-readable: the JSON "detail" field
};

struct resized_image {
  std::string bytes;
  image_format format = image_format::jpeg;
  std::string_view content_type;
  unsigned width = 0;
  unsigned height = 0;
};

struct resize_result {
  std::optional<resized_image> image;  // set iff error.kind == none
  image_error error;
  bool ok() const noexcept { return image.has_value(); }
};

// The 400 checks alone, cheap: handlers call it before reading (or queueing) the body.
std::optional<image_error> validate(const resize_params& p, const resize_limits& limits);

// Decodes the header, refuses bombs before any pixel is decoded, refuses outputs over the pixel
// limit or the output format's side limit (an input of extreme aspect asked for a width can
// mean millions of rows), decodes at a reduced scale
// where the format allows (JPEG: 1/2, 1/4, 1/8 in the decoder; WebP: any scale), resizes with
// lanczos3, encodes. Never throws.
resize_result resize_image(std::span<const std::uint8_t> input, const resize_params& p,
                           const resize_limits& limits = {});
inline resize_result resize_image(std::string_view input, const resize_params& p,
                                  const resize_limits& limits = {}) {
  return resize_image(std::span(reinterpret_cast<const std::uint8_t*>(input.data()), input.size()), p, limits);
}

// The output size resize_image() produces for an input of in_w x in_h (exposed for tests and
// handlers that want to say it up front). Requires validate(p) to pass.
struct image_size {
  std::uint64_t width = 0, height = 0;  // 64 bits: an extreme aspect ratio scaled up overflows 32
  friend bool operator==(image_size, image_size) = default;
};
image_size output_size(unsigned in_w, unsigned in_h, const resize_params& p) noexcept;

}  // namespace nodus::runtime::workers
