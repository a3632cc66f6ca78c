#include "app/scenario_mode.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "runtime/loop/scenario.hpp"

namespace nodus::app {

int run_scenario_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "nodus: --run-scenario %s: cannot read the file\n", path.c_str());
    return 2;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto result = runtime::loop::run_scenario(text.str());
  if (!result) {
    const auto& e = result.error();
    std::fprintf(stderr, "nodus: --run-scenario %s: %s\n", path.c_str(),
                 e.detail.empty() ? e.code.message().c_str() : e.detail.c_str());
    return 2;
  }
  std::printf("%s\n", result->c_str());
  return 0;
}

}  // namespace nodus::app
