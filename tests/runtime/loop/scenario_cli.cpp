// loop_scenario_cli FILE|-           runs one scenario, prints {"order": [...]}
// loop_scenario_cli --jsonl [--repeat N] FILE|-
//   runs one scenario per line, prints one result per line; with --repeat the whole list
//   runs N times and each line is {"runs": [order, ...]}
// A scenario that fails to parse prints {"error": "...", "detail": "..."} (exit 1 in single mode).
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "runtime/loop/scenario.hpp"

namespace {

std::string run_one(const std::string& text, bool& ok) {
  auto r = nodus::runtime::loop::run_scenario(text);
  ok = r.has_value();
  if (ok) return *r;
  boost::json::object err;
  err["error"] = r.error().code.message();
  err["detail"] = r.error().detail;
  return boost::json::serialize(err);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, path;
  int repeat = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--jsonl") mode = arg;
    else if (arg == "--repeat" && i + 1 < argc) repeat = std::stoi(argv[++i]);
    else path = arg;
  }
  if (path.empty()) {
    std::cerr << "usage: loop_scenario_cli [--jsonl] FILE|-\n";
    return 2;
  }
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) {
      std::cerr << "loop_scenario_cli: cannot open " << path << "\n";
      return 2;
    }
  }
  std::istream& in = path == "-" ? std::cin : file;
  bool ok = true;
  if (mode == "--jsonl") {
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) lines.push_back(line);
    if (repeat <= 0) {
      for (const auto& line : lines) {
        bool one = true;
        std::cout << run_one(line, one) << '\n';
      }
      return 0;
    }
    std::vector<boost::json::array> runs(lines.size());
    for (int r = 0; r < repeat; ++r) {
      for (std::size_t i = 0; i < lines.size(); ++i) {
        bool one = true;
        const boost::json::value v = boost::json::parse(run_one(lines[i], one));
        runs[i].push_back(one ? v.at("order") : v);
      }
    }
    for (auto& r : runs) std::cout << boost::json::serialize(boost::json::object{{"runs", std::move(r)}}) << '\n';
    return 0;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::cout << run_one(text, ok) << '\n';
  return ok ? 0 : 1;
}
