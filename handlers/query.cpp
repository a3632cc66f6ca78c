#include "handlers/query.hpp"

#include <boost/url/parse.hpp>

#include <charconv>

namespace nodus::handlers {

query::query(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return;
  valid_ = true;
  for (const auto& p : url->params()) params_.emplace_back(p.key, p.value);
}

std::optional<std::string_view> query::get(std::string_view key) const noexcept {
  for (const auto& [k, v] : params_) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::int64_t> int_param(const query& q, std::string_view key, std::int64_t fallback,
                                      std::int64_t min, std::int64_t max, std::string& error) {
  const auto text = q.get(key);
  if (!text) return fallback;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || end != text->data() + text->size() || v < min || v > max) {
    error = std::string(key) + " must be an integer from " + std::to_string(min) + " to " +
            std::to_string(max);
    return std::nullopt;
  }
  return v;
}

}  // namespace nodus::handlers
