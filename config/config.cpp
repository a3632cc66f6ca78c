#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

#include "runtime/process/parallelism.hpp"

extern char** environ;

namespace nodus::config {
namespace {

constexpr const char* env_prefix = "NODUS_";

// Seconds (fractions allowed) on the command line, milliseconds in the struct.
struct seconds_option {
  std::chrono::milliseconds* target;
  double seconds;
};

std::string env_name_for(const std::string& long_name) {
  std::string out = env_prefix;
  for (char ch : long_name) out += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return out;
}

// Every option of nodus, bound to `c`. `seconds` receives the duration options, converted
// after parsing. Options take the last value given, so env-derived flags placed before the
// user's flags lose to them.
void add_options(CLI::App& app, config& c, std::vector<seconds_option>& seconds) {
  auto size = CLI::AsSizeValue(false);
  app.add_option("--host", c.host, "Address to listen on");
  app.add_option("--port", c.port, "TCP port (0 = ephemeral)")->check(CLI::Range(0, 65535));
  app.add_option("--loops", c.loops, "Event-loop threads (0 = the CPUs this process may run on)")
      ->check(CLI::Range(0, 256));
  app.add_option("--workers", c.workers, "Worker-pool threads (0 = the CPUs this process may run on)")
      ->check(CLI::Range(0, 256));
  app.add_option("--worker-queue", c.worker_queue, "Bounded worker-pool queue length")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--worker-policy", c.worker_policy,
                 "Worker-pool threads' scheduling: idle (SCHED_IDLE: a loop preempts them at once "
                 "on a shared core) or normal (the loops' policy, nice raised by --worker-nice)")
      ->check(CLI::IsMember({"idle", "normal"}));
  app.add_option("--worker-nice", c.worker_nice,
                 "With --worker-policy normal: added to worker-pool threads' nice value, so loops "
                 "run first on a shared core (0..19)")
      ->check(CLI::Range(0, 19));
  app.add_option("--root", c.root, "Directory served under / and /files/");
  app.add_option("--max-body", c.max_body, "Largest request body (bytes; k/m/g suffixes)")
      ->transform(size);
  app.add_option("--max-header", c.max_header, "Largest request header block, and chunk size line or trailer (bytes)")
      ->transform(size)->check(CLI::Range(1024u, 1u << 20));
  app.add_option("--max-uri", c.max_uri, "Longest request target (bytes)")
      ->transform(size)->check(CLI::Range(16u, 1u << 20));
  app.add_option("--max-pipeline", c.max_pipeline, "Pipelined requests queued before reads pause")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-image-bytes", c.max_image_bytes, "Largest image upload (bytes)")
      ->transform(size);
  app.add_option("--max-image-pixels", c.max_image_pixels,
                 "Largest image in pixels, declared input or output (decompression-bomb guard)")
      ->check(CLI::Range(1ull, 1ull << 40));
  seconds.resize(3);
  seconds[0] = {&c.idle_timeout, c.idle_timeout.count() / 1000.0};
  seconds[1] = {&c.request_timeout, c.request_timeout.count() / 1000.0};
  seconds[2] = {&c.shutdown_timeout, c.shutdown_timeout.count() / 1000.0};
  app.add_option("--idle-timeout", seconds[0].seconds, "Keep-alive idle timeout (seconds)")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--request-timeout", seconds[1].seconds,
                 "Time a whole request may take to arrive (seconds)")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--shutdown-timeout", seconds[2].seconds,
                 "Graceful-shutdown drain limit (seconds)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--max-old-space-size", c.max_old_space_size_mb,
                 "Old-space limit per loop heap (MiB), as Node's")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--semi-space-size", c.semi_space_mb, "Initial semi-space size (MiB)")
      ->check(CLI::Range(1, 256));
  app.add_option("--max-semi-space-size", c.max_semi_space_mb, "Largest semi-space size (MiB)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--trace-gc", c.trace_gc, "Log one V8-format line per GC");
  app.add_flag("--verify-heap", c.verify_heap, "Verify the heap after every GC (slow)");
  app.add_option("--log-level", c.log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_flag("--access-log", c.access_log, "Log one line per request");
  app.add_option("--run-scenario", c.run_scenario,
                 "Run an event-loop scenario (JSON file), print its order, exit")
      ->check(CLI::ExistingFile);
  for (CLI::Option* opt : app.get_options()) {
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
}

// The NODUS_* variables that name an option, as "--name=value" arguments.
std::vector<std::pair<std::string, std::string>> env_arguments(CLI::App& app) {
  std::vector<std::pair<std::string, std::string>> out;  // (env name, argument)
  for (const CLI::Option* opt : app.get_options()) {
    const std::string name = opt->get_single_name();
    if (name.empty() || name == "help" || name == "version" || name == "config" ||
        name == "print-config") {
      continue;
    }
    const std::string env = env_name_for(name);
    if (const char* value = std::getenv(env.c_str()); value != nullptr && *value != '\0') {
      out.emplace_back(env, "--" + name + "=" + value);
    }
  }
  return out;
}

// Reason the root directory cannot be served, or empty when it can.
std::string check_root(const std::string& root) {
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) return "not a directory";
  if (::access(root.c_str(), R_OK | X_OK) != 0) return "not readable";
  return {};
}

exit_request invalid(std::string line) { return exit_request{2, {}, std::move(line)}; }

}  // namespace

std::string version() { return NODUS_VERSION; }

parse_result parse(int argc, const char* const* argv) {
  config c;
  c.root = NODUS_DEFAULT_ROOT;
  std::vector<seconds_option> seconds;
  bool print_config = false;

  CLI::App app{"nodus: an HTTP server whose inside works like Node.js", "nodus"};
  app.set_version_flag("--version", "nodus " + version());
  app.set_config("--config", "", "TOML configuration file (see config/nodus.toml)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_flag("--print-config", print_config, "Print the effective configuration and exit");
  add_options(app, c, seconds);

  // Environment variables are validated one by one so an error names the variable.
  const auto env_args = env_arguments(app);
  for (const auto& [env, arg] : env_args) {
    config scratch;
    std::vector<seconds_option> scratch_seconds;
    CLI::App probe;
    add_options(probe, scratch, scratch_seconds);
    std::vector<std::string> args{arg};
    try {
      probe.parse(args);
    } catch (const CLI::ParseError& e) {
      return invalid(std::string("nodus: invalid environment variable ") + env + ": " + e.what());
    }
  }

  // Precedence: the user's flags come last (TakeLast), env-derived flags before them;
  // the config file only fills options neither set.
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);
  for (auto it = env_args.rbegin(); it != env_args.rend(); ++it) args.push_back(it->second);
  try {
    app.parse(args);  // CLI11 takes the vector reversed
  } catch (const CLI::CallForHelp&) {
    return exit_request{0, app.help(), {}};
  } catch (const CLI::CallForVersion&) {
    return exit_request{0, "nodus " + version() + "\n", {}};
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    return invalid("nodus: " + what);
  }

  for (const auto& s : seconds) {
    *s.target = std::chrono::milliseconds(std::llround(s.seconds * 1000.0));
  }
  if (c.loops == 0) c.loops = runtime::process::available_parallelism();
  if (c.workers == 0) c.workers = runtime::process::available_parallelism();
  if (c.max_semi_space_mb < c.semi_space_mb) {
    return invalid("nodus: --max-semi-space-size must be >= --semi-space-size");
  }
  if (c.max_body == 0) return invalid("nodus: --max-body must be at least 1 byte");
  if (const std::string why = check_root(c.root); !why.empty()) {
    return invalid("nodus: --root " + c.root + ": " + why);
  }
  if (print_config) return exit_request{0, to_toml(c), {}};
  return c;
}

std::string to_toml(const config& c) {
  std::ostringstream o;
  auto str = [](const std::string& s) {
    std::string q = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') q += '\\';
      q += ch;
    }
    return q + "\"";
  };
  auto secs = [](std::chrono::milliseconds ms) {
    std::ostringstream s;
    s << static_cast<double>(ms.count()) / 1000.0;
    return s.str();
  };
  o << "host = " << str(c.host) << "\n"
    << "port = " << c.port << "\n"
    << "loops = " << c.loops << "\n"
    << "workers = " << c.workers << "\n"
    << "worker-queue = " << c.worker_queue << "\n"
    << "worker-policy = " << str(c.worker_policy) << "\n"
    << "worker-nice = " << c.worker_nice << "\n"
    << "root = " << str(c.root) << "\n"
    << "max-body = " << c.max_body << "\n"
    << "max-header = " << c.max_header << "\n"
    << "max-uri = " << c.max_uri << "\n"
    << "max-pipeline = " << c.max_pipeline << "\n"
    << "max-image-bytes = " << c.max_image_bytes << "\n"
    << "max-image-pixels = " << c.max_image_pixels << "\n"
    << "idle-timeout = " << secs(c.idle_timeout) << "\n"
    << "request-timeout = " << secs(c.request_timeout) << "\n"
    << "shutdown-timeout = " << secs(c.shutdown_timeout) << "\n"
    << "max-old-space-size = " << c.max_old_space_size_mb << "\n"
    << "semi-space-size = " << c.semi_space_mb << "\n"
    << "max-semi-space-size = " << c.max_semi_space_mb << "\n"
    << "trace-gc = " << (c.trace_gc ? "true" : "false") << "\n"
    << "verify-heap = " << (c.verify_heap ? "true" : "false") << "\n"
    << "log-level = " << str(c.log_level) << "\n"
    << "access-log = " << (c.access_log ? "true" : "false") << "\n";
  return o.str();
}

}  // namespace nodus::config
