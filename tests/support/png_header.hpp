#pragma once
// PNG headers rewritten in place, for decompression-bomb and mutation tests: a tiny file that
// declares a huge image. Link ZLIB::ZLIB (the chunk's CRC is recomputed, so decoders that
// check it still read the header).
#include <zlib.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

namespace nodus::test {

// A PNG's IHDR rewritten to declare wd x ht (CRC recomputed), the rest left as it was.
inline std::string png_declaring(std::string png, std::uint32_t wd, std::uint32_t ht) {
  // signature (8) + length (4) + "IHDR" (4) + width (4) + height (4) + 5 bytes + CRC (4)
  REQUIRE(png.substr(12, 4) == "IHDR");
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<char>(wd >> (24 - 8 * i));
    png[20 + i] = static_cast<char>(ht >> (24 - 8 * i));
  }
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
  return png;
}

}  // namespace nodus::test
