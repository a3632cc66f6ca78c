#include <cstdio>
#include <variant>

#include "config/config.hpp"

int main(int argc, char** argv) {
  auto parsed = nodus::config::parse(argc, argv);
  if (auto* exit = std::get_if<nodus::config::exit_request>(&parsed)) {
    if (!exit->out.empty()) std::fputs(exit->out.c_str(), stdout);
    if (!exit->err.empty()) std::fprintf(stderr, "%s\n", exit->err.c_str());
    return exit->code;
  }
  return 0;
}
