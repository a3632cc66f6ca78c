#pragma once
// Static files and generated streams:
//   GET/HEAD /files/<path>   a file beneath --root: sendfile(2) body, Range, conditional
//                            requests (server/files/), hostile paths → 400/403/404
//   GET/HEAD /<path>         the bundled site under --root ("/" → index.html); exact routes
//                            (/hello, /health, ...) win over this prefix route
//   GET/HEAD /stream?bytes=N&chunk=K
//                            N bytes (0..64 GiB) of generated text ('a'..'z' repeating, byte i
//                            = 'a' + i % 26) with chunked encoding, chunks of K bytes
//                            (1..1 MiB, default 64 KiB), each produced only once the previous
//                            one is written (a slow reader makes the generator wait)
#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

// Per-loop counters (each loop writes only its own; read them on that loop for metrics).
struct file_stats {
  std::uint64_t files_served = 0;       // file bodies written to the end (200/206)
  std::uint64_t file_bytes_sent = 0;    // body bytes of files, complete or not
  std::uint64_t file_aborts = 0;        // transfers ended by the client or a stalled reader
  std::uint64_t file_truncations = 0;   // files that shrank under the transfer
  std::uint64_t streams_served = 0;     // /stream bodies written to the end
  std::uint64_t stream_bytes_sent = 0;  // /stream body bytes (chunk framing excluded)
  std::uint64_t stream_aborts = 0;
};

class files_endpoints;

// Registers /files/, / and /stream. The returned object outlives the routes (they share it);
// stats(loop_index) reads one loop's counters.
std::shared_ptr<const files_endpoints> register_files(server::router& routes,
                                                      const config::config& cfg);

const file_stats& stats_of(const files_endpoints& endpoints, unsigned loop_index);

}  // namespace nodus::handlers
