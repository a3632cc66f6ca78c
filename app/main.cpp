#include <cstdio>
#include <utility>
#include <variant>

#include "app/logging.hpp"
#include "app/scenario_mode.hpp"
#include "app/serve.hpp"
#include "config/config.hpp"

int main(int argc, char** argv) {
  auto parsed = nodus::config::parse(argc, argv);
  if (auto* exit = std::get_if<nodus::config::exit_request>(&parsed)) {
    if (!exit->out.empty()) std::fputs(exit->out.c_str(), stdout);
    if (!exit->err.empty()) std::fprintf(stderr, "%s\n", exit->err.c_str());
    return exit->code;
  }
  const auto& cfg = std::get<nodus::config::config>(parsed);

  // --run-scenario FILE: run an event-loop scenario on a fresh loop, print its order, exit.
  if (!cfg.run_scenario.empty()) return nodus::app::run_scenario_file(cfg.run_scenario);

  nodus::app::block_shutdown_signals();  // before any thread starts (logging, pool, loops)
  auto access_log = nodus::app::setup_logging(cfg);
  return nodus::app::serve(cfg, std::move(access_log));
}
