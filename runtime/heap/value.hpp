#pragma once
// value: one 64-bit word holding a JavaScript value — a small integer (int32), a double,
// a boolean, null, undefined, or a reference to a heap object (NaN-boxing, JavaScriptCore's
// encoding). A reference is a raw address: it is valid only until the next call that may
// trigger GC; hold it in a local or persistent handle across such calls.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace nodus::runtime::heap {

struct heap_object;

class value {
 public:
  constexpr value() noexcept = default;  // undefined

  static constexpr value undefined() noexcept { return value(undefined_bits); }
  static constexpr value null() noexcept { return value(null_bits); }
  static constexpr value boolean(bool b) noexcept { return value(b ? true_bits : false_bits); }
  static constexpr value integer(std::int32_t i) noexcept {
    return value(number_tag | static_cast<std::uint32_t>(i));
  }
  // NaNs are canonicalised so that no double can alias a reference or an integer.
  static value number(double d) noexcept {
    if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
    return value(std::bit_cast<std::uint64_t>(d) + double_offset);
  }
  static value reference(const heap_object* object) noexcept {
    return value(reinterpret_cast<std::uintptr_t>(object));
  }
  // Internal markers (never visible to callers): empty and deleted hash-table keys.
  static constexpr value hole() noexcept { return value(hole_bits); }
  static constexpr value deleted() noexcept { return value(deleted_bits); }

  constexpr bool is_undefined() const noexcept { return bits_ == undefined_bits; }
  constexpr bool is_null() const noexcept { return bits_ == null_bits; }
  constexpr bool is_boolean() const noexcept { return (bits_ & ~std::uint64_t{1}) == false_bits; }
  constexpr bool is_integer() const noexcept { return (bits_ & number_tag) == number_tag; }
  constexpr bool is_double() const noexcept { return is_number() && !is_integer(); }
  constexpr bool is_number() const noexcept { return (bits_ & number_tag) != 0; }
  constexpr bool is_reference() const noexcept {
    return bits_ != 0 && (bits_ & (number_tag | other_tag)) == 0;
  }
  constexpr bool is_hole() const noexcept { return bits_ == hole_bits; }
  constexpr bool is_deleted() const noexcept { return bits_ == deleted_bits; }

  constexpr bool as_boolean() const noexcept { return bits_ == true_bits; }
  constexpr std::int32_t as_integer() const noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(bits_));
  }
  double as_double() const noexcept { return std::bit_cast<double>(bits_ - double_offset); }
  double as_number() const noexcept { return is_integer() ? as_integer() : as_double(); }
  heap_object* as_object() const noexcept {
    return reinterpret_cast<heap_object*>(static_cast<std::uintptr_t>(bits_));
  }
  template <class T>
  T* as() const noexcept {
    return reinterpret_cast<T*>(static_cast<std::uintptr_t>(bits_));
  }

  constexpr std::uint64_t bits() const noexcept { return bits_; }
  // Identity comparison (same primitive bits or same object), not JavaScript equality.
  friend constexpr bool operator==(value a, value b) noexcept { return a.bits_ == b.bits_; }

 private:
  static constexpr std::uint64_t number_tag = 0xfffe'0000'0000'0000ULL;
  static constexpr std::uint64_t double_offset = 1ULL << 49;
  static constexpr std::uint64_t other_tag = 0x2;
  static constexpr std::uint64_t hole_bits = 0x0;  // never a reference: is_reference() excludes 0
  static constexpr std::uint64_t null_bits = 0x02;
  static constexpr std::uint64_t false_bits = 0x06;
  static constexpr std::uint64_t true_bits = 0x07;
  static constexpr std::uint64_t undefined_bits = 0x0a;
  static constexpr std::uint64_t deleted_bits = 0x12;

  constexpr explicit value(std::uint64_t bits) noexcept : bits_(bits) {}
  std::uint64_t bits_ = undefined_bits;
};

static_assert(sizeof(value) == 8);

}  // namespace nodus::runtime::heap
