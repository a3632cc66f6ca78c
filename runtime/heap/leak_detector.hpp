#pragma once
// leak_detector: flags steady growth of the heap's live size, measured after major GCs.
//
// Why after major GCs only: a major GC first empties new space (every survivor promoted), then
// marks and sweeps the old generation, so its used-after figure is the live set — the one
// number not inflated by garbage that simply has not been collected yet. A scavenge's
// used-after still counts dead old objects, so minor GCs are ignored.
//
// The rule is node-memwatch's "leak" event (heap use after GC grew over five consecutive
// GCs), made robust in two ways:
//   - a change within ±noise_bytes of the last counted sample is neither growth nor decline
//     (back-to-back forced GCs, request temporaries alive at GC time), and it is not adopted
//     as the new reference either: a slow leak accumulates until it clears the noise band;
//   - the growth over the run must reach min_growth_bytes (a warming cache grows a few
//     times and stops).
// Suspicion starts when growing_gcs counted increases in a row add up to min_growth_bytes;
// it ends at the first counted decline (memory was released, so what grew was not a leak —
// or the leak was fixed). A leak mixed with large swings of the working set can therefore
// be missed; the detector trades that for no false alarms on a steady server.
#include <cstddef>
#include <cstdint>

#include "runtime/heap/gc_tracer.hpp"

namespace nodus::runtime::heap {

struct leak_detector_options {
  std::size_t growing_gcs = 5;                  // counted increases in a row (memwatch: 5)
  std::size_t min_growth_bytes = 1024 * 1024;   // total growth over the run
  std::size_t noise_bytes = 64 * 1024;          // changes within this band are not counted
};

// A plain snapshot of the detector's state, for /debug/heap and /metrics.
struct leak_status {
  bool suspected = false;
  std::uint64_t major_gcs_seen = 0;
  std::size_t growing_gcs = 0;             // counted increases in the current run
  std::size_t run_start_bytes = 0;         // used after the major GC that started the run
  std::size_t last_used_after_bytes = 0;   // used after the latest major GC
  std::size_t growth_bytes = 0;            // reference sample - run_start_bytes
  std::uint64_t suspicions = 0;            // times suspicion started
  std::uint64_t suspected_since_gc = 0;    // gc_event::sequence that started it; 0 = none
};

class leak_detector {
 public:
  explicit leak_detector(leak_detector_options options = {}) noexcept : options_(options) {}

  // Feeds the event of one GC (minor ones are ignored). Returns true when this event starts
  // a suspicion (the caller logs it once). Must not allocate: called at the end of a GC.
  bool record(const gc_event& event) noexcept;

  const leak_status& status() const noexcept { return status_; }
  bool suspected() const noexcept { return status_.suspected; }
  const leak_detector_options& options() const noexcept { return options_; }

 private:
  leak_detector_options options_;
  leak_status status_;
  std::size_t reference_bytes_ = 0;  // the last counted sample
};

}  // namespace nodus::runtime::heap
