#include "runtime/heap/leak_detector.hpp"

namespace nodus::runtime::heap {

bool leak_detector::record(const gc_event& event) noexcept {
  if (event.kind != gc_kind::major) return false;
  const std::size_t used = event.used_after_bytes;
  leak_status& s = status_;
  s.last_used_after_bytes = used;
  if (s.major_gcs_seen++ == 0) {
    reference_bytes_ = s.run_start_bytes = used;
    return false;
  }
  if (used > reference_bytes_ + options_.noise_bytes) {
    reference_bytes_ = used;
    ++s.growing_gcs;
  } else if (used + options_.noise_bytes < reference_bytes_) {
    // Memory came back: whatever grew was released. A new run starts here.
    reference_bytes_ = s.run_start_bytes = used;
    s.growing_gcs = 0;
    s.suspected = false;
    s.suspected_since_gc = 0;
  }
  s.growth_bytes = reference_bytes_ - s.run_start_bytes;
  if (s.suspected || s.growing_gcs < options_.growing_gcs || s.growth_bytes < options_.min_growth_bytes) {
    return false;
  }
  s.suspected = true;
  s.suspected_since_gc = event.sequence;
  ++s.suspicions;
  return true;
}

}  // namespace nodus::runtime::heap
