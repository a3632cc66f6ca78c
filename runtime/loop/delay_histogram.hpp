#pragma once
// A log-linear (HdrHistogram-style) histogram of non-negative integer values, as Node's
// monitorEventLoopDelay() keeps one (Node links HdrHistogram_c; Debian 12 ships no
// HdrHistogram package, so this is a small equivalent: 2^sub_bits linear sub-buckets per
// power of two, relative error <= 2^-(sub_bits-1)). min/max/mean/stddev are exact.
#include <cstdint>
#include <vector>

namespace nodus::runtime::loop {

class delay_histogram {
 public:
  // Values above 2^max_bits - 1 are not recorded; they count in exceeds().
  explicit delay_histogram(unsigned sub_bits = 8, unsigned max_bits = 44);

  void record(std::uint64_t value) noexcept;
  void count_exceed() noexcept { ++exceeds_; }
  void reset() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t exceeds() const noexcept { return exceeds_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept;
  double stddev() const noexcept;
  // Smallest recorded-bucket upper bound v such that >= p% of values are <= v (p in [0,100]).
  std::uint64_t percentile(double p) const noexcept;

 private:
  std::size_t index_of(std::uint64_t value) const noexcept;
  std::uint64_t highest_equivalent(std::size_t index) const noexcept;

  unsigned sub_bits_;
  std::uint64_t limit_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0, exceeds_ = 0, min_ = 0, max_ = 0;
  double sum_ = 0, sum_sq_ = 0;
};

}  // namespace nodus::runtime::loop
