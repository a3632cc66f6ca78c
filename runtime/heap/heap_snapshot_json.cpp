// heap_snapshot_writer: the document, section by section, in pieces of about chunk_bytes.
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

#include <charconv>
#include <string>

#include "runtime/heap/heap_snapshot.hpp"
#include "runtime/heap/heap_snapshot_format.hpp"

namespace nodus::runtime::heap {

using namespace snapshot_format;

namespace {

void append_number(std::string& out, std::uint64_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

}  // namespace

void heap_snapshot_writer::write_string(std::string& out, std::string_view s) {
  if (!first_string_) out += ",\n";
  first_string_ = false;
  bool valid = true;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      valid = false;
      break;
    }
    i += n;
  }
  if (valid) {
    out += boost::json::serialize(boost::json::string_view(s.data(), s.size()));
    return;
  }
  std::string clean;  // invalid UTF-8 (strings hold any bytes): U+FFFD per bad byte
  clean.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      clean += "\xEF\xBF\xBD";
      ++i;
    } else {
      clean.append(s.substr(i, n));
      i += n;
    }
  }
  out += boost::json::serialize(boost::json::string_view(clean.data(), clean.size()));
}

// --- output -----------------------------------------------------------------------------------------------

void heap_snapshot_writer::write_node(std::string& out, std::uint8_t type, std::uint64_t name, std::uint64_t id,
                                      std::uint64_t self_size, std::uint64_t edges) {
  if (nodes_written_++ != 0) out += ',';
  append_number(out, type);
  out += ',';
  append_number(out, name);
  out += ',';
  append_number(out, id);
  out += ',';
  append_number(out, self_size);
  out += ',';
  append_number(out, edges);
  out += ",0,0\n";  // trace_node_id, detachedness
}

void heap_snapshot_writer::write_edge(std::string& out, std::uint8_t type, std::uint64_t name_or_index,
                                      std::uint32_t to) {
  if (edges_written_++ != 0) out += ',';
  append_number(out, type);
  out += ',';
  append_number(out, name_or_index);
  out += ',';
  append_number(out, std::uint64_t{to} * node_fields);
  out += '\n';
}

bool heap_snapshot_writer::next(std::string& out) {
  while (out.size() < options_.chunk_bytes) {
    switch (section_) {
      case section::header:
        out += R"({"snapshot":{"meta":)";
        out += meta_json;
        out += R"(,"node_count":)";
        append_number(out, node_count_);
        out += R"(,"edge_count":)";
        append_number(out, edge_count_);
        out += ",\"trace_function_count\":0},\n\"nodes\":[";
        section_ = section::nodes;
        break;
      case section::nodes:
        if (!write_nodes(out)) return true;
        if (nodes_written_ != node_count_) failed_ = true;
        out += "],\n\"edges\":[";
        section_ = section::edges;
        cursor_ = {};
        synthetic_ = 0;
        break;
      case section::edges:
        if (!write_edges(out)) return true;
        if (edges_written_ != edge_count_) failed_ = true;
        out += "],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n\"locations\":[],\n\"strings\":[";
        section_ = section::strings;
        cursor_ = {};
        string_index_ = 0;
        dynamic_next_ = 0;
        break;
      case section::strings: {
        if (!write_strings(out)) return true;
        out += "]}\n";
        section_ = section::done;
        close();  // everything is written: GC may run again
        return false;
      }
      case section::done: return false;
    }
  }
  return section_ != section::done;
}

bool heap_snapshot_writer::write_nodes(std::string& out) {
  for (; synthetic_ < synthetic_nodes; ++synthetic_) {
    if (synthetic_ == 0) {
      write_node(out, node_synthetic, find_interned(""), root_id, 0, 1);
    } else if (synthetic_ == 1) {
      write_node(out, node_synthetic, find_interned("(GC roots)"), gc_roots_id, 0, std::size(categories));
    } else {
      const std::size_t c = synthetic_ - 2;
      write_node(out, node_synthetic, find_interned(root_category_name(categories[c])), first_subroot_id + 2 * c, 0,
                 roots_[c].size());
    }
  }
  while (out.size() < options_.chunk_bytes) {
    const heap_object* o = next_object(cursor_);
    if (o == nullptr) return true;
    std::uint64_t name;
    if (o->kind() == object_kind::string) name = dynamic_base_ + dynamic_next_++;
    else if (o->kind() == object_kind::closure) name = resolve(node_name(o));
    else name = find_interned(class_name(o));
    write_node(out, node_type(o), name, o->id(), o->size_bytes(),
               edge_count_of(o, cursor_.entry));
  }
  return false;
}

bool heap_snapshot_writer::write_edges(std::string& out) {
  // Synthetic: root → (GC roots) → one sub-root per category → the roots (element edges, 1-based).
  const std::uint32_t synthetic_edges = 1 + static_cast<std::uint32_t>(std::size(categories));
  for (; synthetic_ < synthetic_edges; ++synthetic_) {
    if (synthetic_ == 0) write_edge(out, edge_element, 1, 1);
    else write_edge(out, edge_element, synthetic_, 1 + synthetic_);
  }
  for (; synthetic_ < synthetic_edges + std::size(categories); ++synthetic_) {
    const auto& roots = roots_[synthetic_ - synthetic_edges];
    for (; root_index_ < roots.size(); ++root_index_) {
      if (out.size() >= options_.chunk_bytes) return false;
      write_edge(out, edge_element, root_index_ + 1, roots[root_index_]);
    }
    root_index_ = 0;
  }
  while (true) {
    if (cursor_.object == nullptr) {
      cursor_.object = next_object(cursor_);
      cursor_.position = 0;
      if (cursor_.object == nullptr) return true;
    }
    const heap_object* v = view(cursor_.object);
    const std::uint32_t positions = position_count(v);
    while (cursor_.position < positions) {
      if (out.size() >= options_.chunk_bytes) return false;
      edge e;
      if (!edge_at(v, cursor_.position++, e)) continue;
      std::uint64_t name;
      if (e.numeric) name = e.index;
      else if (e.kind == name_kind::text) name = resolve(e.name);
      else name = resolve(edge_name(e));
      write_edge(out, e.type, name, ordinal(e.target));
    }
    const std::uint32_t key = ordinal(cursor_.object);
    entries_of(key, cursor_.entry);
    while (cursor_.entry < entries_.size() && entries_[cursor_.entry].key == key) {
      if (out.size() >= options_.chunk_bytes) return false;
      // Pair names are unique: always written in walk order.
      write_edge(out, edge_internal, dynamic_base_ + dynamic_next_++, ordinal(entries_[cursor_.entry].value));
      ++cursor_.entry;
    }
    cursor_.object = nullptr;
  }
}

// Interned names, then the walk-order strings: node names (string contents, closure names past
// the table) in node order, then edge names past the table and WeakMap pair names in edge order.
// Both walks decide exactly as write_nodes / write_edges did, over the same unchanged view.
bool heap_snapshot_writer::write_strings(std::string& out) {
  for (; string_index_ < interned_order_.size(); ++string_index_) {
    if (out.size() >= options_.chunk_bytes) return false;
    write_string(out, interned_order_[string_index_]);
  }
  while (!strings_edges_) {
    if (out.size() >= options_.chunk_bytes) return false;
    const heap_object* o = next_object(cursor_);
    if (o == nullptr) {
      strings_edges_ = true;
      cursor_ = {};
      break;
    }
    if (o->kind() == object_kind::string) {
      write_string(out, truncate_utf8(static_cast<const string_object*>(o)->view(), options_.string_name_limit));
      ++dynamic_next_;
    } else if (o->kind() == object_kind::closure) {
      const std::string name = node_name(o);
      if (find_interned(name) == no_node) {
        write_string(out, name);
        ++dynamic_next_;
      }
    }
  }
  while (dynamic_edge_names_) {
    if (cursor_.object == nullptr) {
      cursor_.object = next_object(cursor_);
      cursor_.position = 0;
      if (cursor_.object == nullptr) break;
    }
    const heap_object* v = view(cursor_.object);
    const std::uint32_t positions = position_count(v);
    while (cursor_.position < positions) {
      if (out.size() >= options_.chunk_bytes) return false;
      edge e;
      if (!edge_at(v, cursor_.position++, e) || e.numeric) continue;
      const std::string name = e.kind == name_kind::text ? std::string(e.name) : edge_name(e);
      if (find_interned(name) == no_node) {
        write_string(out, name);
        ++dynamic_next_;
      }
    }
    const std::uint32_t key = ordinal(cursor_.object);
    entries_of(key, cursor_.entry);
    while (cursor_.entry < entries_.size() && entries_[cursor_.entry].key == key) {
      if (out.size() >= options_.chunk_bytes) return false;
      edge e{edge_internal, false, name_kind::ephemeron_pair, 0, {}, cursor_.object, &entries_[cursor_.entry]};
      write_string(out, edge_name(e));
      ++dynamic_next_;
      ++cursor_.entry;
    }
    cursor_.object = nullptr;
  }
  return true;
}

std::string heap_snapshot_writer::write_all() {
  std::string out;
  std::string piece;
  while (true) {
    piece.clear();
    const bool more = next(piece);
    out += piece;
    if (!more) return out;
  }
}

}  // namespace nodus::runtime::heap
