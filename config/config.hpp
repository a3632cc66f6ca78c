#pragma once
// nodus configuration: defaults < TOML file (--config) < NODUS_* environment < CLI flags.
#include <chrono>
#include <cstdint>
#include <string>
#include <variant>

namespace nodus::config {

struct config {
  // network
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;           // 0 = ephemeral; the listening line shows the real one
  unsigned loops = 0;                  // event-loop threads; 0 = resolved to available_parallelism()
  unsigned workers = 0;                // worker-pool threads; 0 = resolved likewise
  std::size_t worker_queue = 1024;     // bounded worker-pool queue
  std::string worker_policy = "idle";  // pool threads' scheduling: "idle" (SCHED_IDLE) or "normal"
  int worker_nice = 10;                // "normal": added to pool threads' nice (loops run first on a shared core)
  std::string root;                    // directory served under / and /files/

  // HTTP limits
  std::uint64_t max_body = 1u << 20;         // bytes of a request body (413 above)
  std::uint32_t max_header = 16u << 10;      // bytes of the request header block (431 above)
  std::uint32_t max_uri = 8u << 10;          // bytes of the request target (414 above)
  std::uint32_t max_pipeline = 16;           // queued pipelined requests before reads pause

  // image endpoints
  std::uint64_t max_image_bytes = 32u << 20;            // encoded input (413 above)
  std::uint64_t max_image_pixels = 0x3FFFull * 0x3FFF;  // declared input and output width*height (422 above; sharp's limit)

  // timeouts
  std::chrono::milliseconds idle_timeout{5000};       // keep-alive idle (Node: keepAliveTimeout 5 s)
  std::chrono::milliseconds request_timeout{30000};   // whole request must arrive within this
  std::chrono::milliseconds shutdown_timeout{10000};  // graceful drain on SIGINT/SIGTERM

  // managed heap (per loop)
  std::uint32_t max_old_space_size_mb = 256;   // as Node's --max-old-space-size
  std::uint32_t semi_space_mb = 1;             // initial semi-space size
  std::uint32_t max_semi_space_mb = 16;        // maximum semi-space size
  bool trace_gc = false;                       // V8-format GC lines in the log
  bool verify_heap = false;                    // run the heap verifier after each GC (slow)

  // logging
  std::string log_level = "info";
  bool access_log = false;

  // one-shot modes
  std::string run_scenario;   // --run-scenario FILE: run a loop scenario, print JSON, exit
};

// What parse() decided: run with a config, or exit now (help, version, print-config, error).
struct exit_request {
  int code = 0;            // 0 for help/version/print-config, 2 for invalid input
  std::string out;         // text for stdout
  std::string err;         // one line for stderr
};

using parse_result = std::variant<config, exit_request>;

// Parses flags, NODUS_* environment variables and the --config TOML file. Never throws.
parse_result parse(int argc, const char* const* argv);

// The effective configuration as TOML (what --print-config prints).
std::string to_toml(const config& c);

std::string version();

}  // namespace nodus::config
