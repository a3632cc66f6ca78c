#pragma once
// libvips's process-wide settings, applied once. nodus's worker pool, not libvips, decides the
// parallelism: each resize runs on the pool thread that called it with libvips's own
// concurrency at 1, and the operation cache is off (every request brings new bytes).
#include <string>

namespace nodus::runtime::workers {

// Initialises libvips once per process (thread-safe, idempotent): vips_init, concurrency 1,
// cache off, untrusted loaders blocked and every loader but JPEG, PNG, WebP and GIF blocked,
// so other formats (SVG, PDF, TIFF, HEIF, ...) are refused as unsupported. Returns an empty
// string on success, else why it failed (then every call fails the same way).
const std::string& init_vips();

// "8.18.7": the libvips nodus runs with (for /debug and logs).
std::string vips_version();

}  // namespace nodus::runtime::workers
