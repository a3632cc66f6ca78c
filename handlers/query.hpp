#pragma once
// Query parameters of a request target, percent-decoded by Boost.URL.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nodus::handlers {

class query {
 public:
  // Parses the query part of an origin-form target ("/path?a=1&b=x"). A target Boost.URL
  // rejects leaves valid() false (the caller answers 400).
  explicit query(std::string_view target);

  bool valid() const noexcept { return valid_; }
  // The first value of `key`, decoded; nullopt when absent.
  std::optional<std::string_view> get(std::string_view key) const noexcept;

 private:
  bool valid_ = false;
  std::vector<std::pair<std::string, std::string>> params_;
};

// An integer parameter within [min, max]. Absent → `fallback`. Present but not an integer in
// range → nullopt, with `error` set to a sentence for the 400 body.
std::optional<std::int64_t> int_param(const query& q, std::string_view key, std::int64_t fallback,
                                      std::int64_t min, std::int64_t max, std::string& error);

}  // namespace nodus::handlers
