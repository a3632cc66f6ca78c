#pragma once
#include <string>

namespace nodus::app {

// nodus --run-scenario FILE: runs the scenario (runtime/loop/scenario.hpp) on a fresh loop
// and prints {"order":[...]} to stdout. Returns the exit code: 0, or 2 with one stderr line
// when the file is unreadable or the scenario invalid.
int run_scenario_file(const std::string& path);

}  // namespace nodus::app
