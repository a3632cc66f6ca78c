#pragma once
// A WeakRef cache on the serving loop's managed heap, as one writes it in JavaScript:
//   const table = {};                          // key → WeakRef(value), on the heap
//   const registry = new FinalizationRegistry(key => { if (!table[key].deref()) delete table[key]; });
//   + a small strong LRU (persistent handles) so the hottest values survive major GCs.
// A value is a 64 KiB ByteArray derived from the key by PBKDF2-HMAC-SHA256 (OpenSSL), a few
// ms of real work. Lookup order: LRU → WeakRef (cleared ones are deleted and counted) →
// compute. Once a value has left the LRU only its WeakRef refers to it, and the next major
// GC clears it; the registry's cleanup (a later loop task) counts it as cleared by GC.
//
//   GET /demo/cache/<key>   {"key", "hit", "source": "lru"|"weakref"|"computed", ...}
//   GET /demo/cache         the counters of every loop (?loop=k for one)
#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>

#include "handlers/isolates.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

inline constexpr std::size_t cache_lru_capacity = 8;          // strong entries, fixed
inline constexpr std::size_t cache_value_bytes = 64 * 1024;
inline constexpr unsigned cache_pbkdf2_iterations = 4;        // ~3 ms per value here
inline constexpr std::size_t cache_max_key_bytes = 64;

// One loop's cache counters: a plain struct for /debug/heap and /metrics.
struct weak_cache_stats {
  std::uint64_t lookups = 0;
  std::uint64_t hits_lru = 0;
  std::uint64_t hits_weakref = 0;
  std::uint64_t misses = 0;                  // computed
  std::uint64_t cleared_by_gc = 0;           // values collected (FinalizationRegistry cleanups)
  std::uint64_t cleared_seen_on_lookup = 0;  // lookups that found their WeakRef empty
  std::uint64_t compute_ns = 0;              // total time spent computing values
  std::size_t lru_entries = 0;
  std::size_t lru_capacity = cache_lru_capacity;
  std::size_t weakref_entries = 0;           // keys in the WeakRef table
};

// The cache counters of `iso`'s loop. Call on that loop's thread.
weak_cache_stats demo_cache_stats(isolate& iso);
boost::json::object weak_cache_stats_json(const weak_cache_stats& s);

void register_demo_cache(server::router& routes, const isolate_registry& isolates);

}  // namespace nodus::handlers
