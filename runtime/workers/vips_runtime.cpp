#include "runtime/workers/vips_runtime.hpp"

#include <vips/vips.h>

#include <array>

namespace nodus::runtime::workers {

namespace {

// Loaders nodus accepts; every other VipsForeignLoad subclass stays blocked.
constexpr std::array<const char*, 4> allowed_loaders{"VipsForeignLoadJpeg", "VipsForeignLoadPng",
                                                     "VipsForeignLoadWebp", "VipsForeignLoadNsgif"};

// libvips logs a warning per bad tile of a broken input; the request already gets the error,
// so these would only be stderr noise an attacker controls.
void drop_log(const gchar*, GLogLevelFlags, const gchar*, gpointer) {}

std::string do_init() {
  if (vips_init("nodus") != 0) {
    std::string why = vips_error_buffer();
    vips_error_clear();
    return "vips_init failed: " + why;
  }
  g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_log, nullptr);
  vips_concurrency_set(1);
  vips_cache_set_max(0);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
  vips_block_untrusted_set(TRUE);
  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (const char* name : allowed_loaders) vips_operation_block_set(name, FALSE);
  return {};
}

}  // namespace

const std::string& init_vips() {
  static const std::string error = do_init();  // C++ guarantees one thread runs this
  return error;
}

std::string vips_version() {
  return std::to_string(::vips_version(0)) + "." + std::to_string(::vips_version(1)) + "." +
         std::to_string(::vips_version(2));
}

}  // namespace nodus::runtime::workers
