#include "runtime/loop/delay_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace nodus::runtime::loop {

// Layout: values < 2^sub_bits map 1:1 (bucket 0). A value with highest bit b >= sub_bits
// keeps its top sub_bits bits: bucket (b - sub_bits + 1), sub-index = value >> (b - sub_bits + 1)
// which lies in [2^(sub_bits-1), 2^sub_bits). Each bucket after the first uses half the slots.
delay_histogram::delay_histogram(unsigned sub_bits, unsigned max_bits)
    : sub_bits_(sub_bits), limit_((std::uint64_t{1} << max_bits) - 1) {
  const std::size_t half = std::size_t{1} << (sub_bits - 1);
  counts_.assign((std::size_t{1} << sub_bits) + (max_bits - sub_bits + 1) * half, 0);
}

std::size_t delay_histogram::index_of(std::uint64_t value) const noexcept {
  const std::uint64_t full = std::uint64_t{1} << sub_bits_;
  if (value < full) return static_cast<std::size_t>(value);
  const unsigned top = static_cast<unsigned>(std::bit_width(value)) - 1;  // highest set bit
  const unsigned shift = top - sub_bits_ + 1;
  const std::size_t half = full / 2;
  const std::size_t sub = static_cast<std::size_t>(value >> shift) - half;
  return static_cast<std::size_t>(full) + (shift - 1) * half + sub;
}

std::uint64_t delay_histogram::highest_equivalent(std::size_t index) const noexcept {
  const std::uint64_t full = std::uint64_t{1} << sub_bits_;
  if (index < full) return index;
  const std::size_t half = full / 2;
  const std::size_t rel = index - full;
  const unsigned shift = static_cast<unsigned>(rel / half) + 1;
  const std::uint64_t sub = half + rel % half;
  return ((sub + 1) << shift) - 1;
}

void delay_histogram::record(std::uint64_t value) noexcept {
  if (value > limit_) {
    ++exceeds_;
    return;
  }
  ++counts_[index_of(value)];
  min_ = count_ == 0 ? value : std::min(min_, value);
  max_ = std::max(max_, value);
  ++count_;
  const auto v = static_cast<double>(value);
  sum_ += v;
  sum_sq_ += v * v;
}

void delay_histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = exceeds_ = min_ = max_ = 0;
  sum_ = sum_sq_ = 0;
}

double delay_histogram::mean() const noexcept {
  return count_ ? sum_ / static_cast<double>(count_) : 0.0;
}

double delay_histogram::stddev() const noexcept {
  if (count_ == 0) return 0.0;
  const double m = mean();
  const double var = sum_sq_ / static_cast<double>(count_) - m * m;
  return var > 0 ? std::sqrt(var) : 0.0;
}

std::uint64_t delay_histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  auto wanted = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  wanted = std::max<std::uint64_t>(wanted, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= wanted) return std::min(highest_equivalent(i), max_);
  }
  return max_;
}

}  // namespace nodus::runtime::loop
