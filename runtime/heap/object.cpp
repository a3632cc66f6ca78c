#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

std::string_view kind_name(object_kind kind) noexcept {
  switch (kind) {
    case object_kind::free_space: return "free_space";
    case object_kind::one_word_filler: return "one_word_filler";
    case object_kind::string: return "string";
    case object_kind::byte_array: return "byte_array";
    case object_kind::array: return "array";
    case object_kind::object: return "object";
    case object_kind::closure: return "closure";
    case object_kind::context: return "context";
    case object_kind::weak_ref: return "weak_ref";
    case object_kind::weak_map: return "weak_map";
    case object_kind::finalization_registry: return "finalization_registry";
    case object_kind::fixed_array: return "fixed_array";
    case object_kind::ephemeron_table: return "ephemeron_table";
    case object_kind::registry_cells: return "registry_cells";
  }
  return "unknown";
}

}  // namespace nodus::runtime::heap
