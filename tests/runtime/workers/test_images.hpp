#pragma once
// Test and benchmark images, made with libvips itself: gradients with texture (so JPEG and
// WebP have real work to do), optional alpha, in any format libvips can save.
#include <vips/vips8>

#include <cstdint>
#include <string>
#include <string_view>

namespace nodus::test {

// A w x h sRGB image: smooth gradients plus blurred noise, like a photo's mix of flat and
// detailed areas; the same pixels every run. `alpha` adds a varying alpha band.
inline vips::VImage make_test_image(int w, int h, bool alpha = false) {
  using vips::VImage;
  VImage xy = VImage::xyz(w, h);
  VImage x = xy[0] * (255.0 / w), y = xy[1] * (255.0 / h);
  VImage noise = VImage::gaussnoise(w, h, VImage::option()->set("sigma", 40.0)->set("mean", 0.0)->set("seed", 42))
                     .gaussblur(1.2);
  VImage rgb = (x + noise).bandjoin(y + noise).bandjoin((x + y) * 0.5 - noise);
  if (alpha) rgb = rgb.bandjoin(x * 0.5 + 127);
  return rgb.cast(VIPS_FORMAT_UCHAR).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// Encodes with libvips; suffix ".jpg", ".png", ".webp", ".gif", ".tif", ...
inline std::string encode_test_image(const vips::VImage& img, const char* suffix, const char* options = "") {
  void* buf = nullptr;
  std::size_t size = 0;
  img.write_to_buffer((std::string(suffix) + options).c_str(), &buf, &size);
  std::string out(static_cast<const char*>(buf), size);
  g_free(buf);
  return out;
}

inline std::string make_test_file(int w, int h, const char* suffix, bool alpha = false) {
  return encode_test_image(make_test_image(w, h, alpha), suffix);
}

}  // namespace nodus::test
