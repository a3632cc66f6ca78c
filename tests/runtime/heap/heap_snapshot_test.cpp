// heap_snapshot_writer: the V8 format (parsed back with Boost.JSON), the graph it shows, stable
// ids, GC deferral, and exact output while the heap is mutated between chunks.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/heap/heap_snapshot.hpp"
#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

namespace {

namespace json = boost::json;

struct snap_node {
  std::string type;
  std::string name;
  std::uint64_t id;
  std::uint64_t self_size;
  std::uint64_t edge_count;
};
struct snap_edge {
  std::string type;
  std::string name;  // element / hidden: the index as text
  std::size_t to;    // node ordinal
};

// A parsed .heapsnapshot with its structural invariants checked.
struct parsed {
  json::object root;
  std::vector<snap_node> nodes;
  std::vector<std::vector<snap_edge>> edges;  // per node
  std::vector<std::string> strings;

  explicit parsed(const std::string& text) {
    root = json::parse(text).as_object();
    std::vector<std::string> keys;
    for (const auto& kv : root) keys.emplace_back(kv.key());
    REQUIRE(keys == std::vector<std::string>{"snapshot", "nodes", "edges", "trace_function_infos", "trace_tree",
                                             "samples", "locations", "strings"});
    const auto& snapshot = root.at("snapshot").as_object();
    const auto& meta = snapshot.at("meta").as_object();
    REQUIRE(json::serialize(meta.at("node_fields")) ==
            R"(["type","name","id","self_size","edge_count","trace_node_id","detachedness"])");
    REQUIRE(json::serialize(meta.at("edge_fields")) == R"(["type","name_or_index","to_node"])");
    REQUIRE(json::serialize(meta.at("edge_types")) ==
            R"([["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"])");
    REQUIRE(meta.at("node_types").as_array().at(0).as_array().size() == 16);
    REQUIRE(meta.contains("sample_fields"));
    REQUIRE(meta.contains("location_fields"));
    const auto node_types = meta.at("node_types").as_array().at(0).as_array();
    const auto edge_types = meta.at("edge_types").as_array().at(0).as_array();
    for (const auto& s : root.at("strings").as_array()) strings.emplace_back(s.as_string());
    REQUIRE(strings.at(0) == "<dummy>");
    const auto& n = root.at("nodes").as_array();
    const auto& e = root.at("edges").as_array();
    const auto node_count = snapshot.at("node_count").to_number<std::uint64_t>();
    const auto edge_count = snapshot.at("edge_count").to_number<std::uint64_t>();
    REQUIRE(n.size() == node_count * 7);
    REQUIRE(e.size() == edge_count * 3);
    std::size_t edge_at = 0;
    for (std::size_t i = 0; i < n.size(); i += 7) {
      snap_node node{std::string(node_types.at(n[i].to_number<std::size_t>()).as_string()),
                     strings.at(n[i + 1].to_number<std::size_t>()), n[i + 2].to_number<std::uint64_t>(),
                     n[i + 3].to_number<std::uint64_t>(), n[i + 4].to_number<std::uint64_t>()};
      REQUIRE(n[i + 5].to_number<int>() == 0);
      REQUIRE(n[i + 6].to_number<int>() == 0);
      std::vector<snap_edge> out;
      for (std::uint64_t k = 0; k < node.edge_count; ++k, ++edge_at) {
        REQUIRE(edge_at * 3 + 2 < e.size());
        const std::string type(edge_types.at(e[edge_at * 3].to_number<std::size_t>()).as_string());
        const auto name_or_index = e[edge_at * 3 + 1].to_number<std::size_t>();
        const auto to = e[edge_at * 3 + 2].to_number<std::size_t>();
        REQUIRE(to % 7 == 0);
        REQUIRE(to < n.size());
        const bool numeric = type == "element" || type == "hidden";
        out.push_back({type, numeric ? std::to_string(name_or_index) : strings.at(name_or_index), to / 7});
      }
      nodes.push_back(std::move(node));
      edges.push_back(std::move(out));
    }
    REQUIRE(edge_at == edge_count);  // the nodes' edge counts add up exactly
    std::set<std::uint64_t> ids;
    for (const auto& node : nodes) {
      REQUIRE(node.id % 2 == 1);
      REQUIRE(ids.insert(node.id).second);
    }
  }

  std::optional<std::size_t> find(std::uint64_t id) const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].id == id) return i;
    }
    return std::nullopt;
  }
  const snap_edge* edge(std::size_t node, std::string_view type, std::string_view name) const {
    for (const auto& e : edges[node]) {
      if (e.type == type && e.name == name) return &e;
    }
    return nullptr;
  }
  std::size_t node_named(std::string_view name) const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].name == name) return i;
    }
    FAIL("no node named " << name);
    return 0;
  }
};

std::string snapshot_of(heap& h, snapshot_options o = {}) { return heap_snapshot_writer(h, std::move(o)).write_all(); }

}  // namespace

TEST_CASE("heap snapshot: V8 layout, synthetic roots and exact counts", "[heap][snapshot]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto doc = c.h.new_object().value();
  persistent<js_object> stored(c.h, doc);
  REQUIRE(c.h.set_property(doc, "name", c.h.new_string("nodus").value().get()));
  auto temp = c.h.new_string("temporary").value();  // a handle-scope root

  heap_snapshot_writer w(c.h);
  const parsed p(w.write_all());
  CHECK_FALSE(w.failed());
  CHECK(p.nodes.size() == w.node_count());

  // Node 0: the synthetic root, id 1, one element edge to (GC roots), which has the sub-roots.
  CHECK(p.nodes[0].type == "synthetic");
  CHECK(p.nodes[0].name.empty());
  CHECK(p.nodes[0].id == 1);
  REQUIRE(p.edges[0].size() == 1);
  CHECK(p.edges[0][0].type == "element");
  CHECK(p.edges[0][0].name == "1");
  CHECK(p.nodes[p.edges[0][0].to].name == "(GC roots)");
  std::vector<std::string> subroots;
  for (const auto& e : p.edges[1]) {
    CHECK(e.type == "element");
    subroots.push_back(p.nodes[e.to].name);
  }
  CHECK(subroots == std::vector<std::string>{"(Handle scope)", "(Global handles)", "(Kept objects)",
                                             "(Finalization registry)"});

  // Every object once, with its size; the total is the heap's used size (after the GC).
  std::uint64_t objects = 0, bytes = 0;
  for (const auto& n : p.nodes) {
    if (n.type == "synthetic") continue;
    ++objects;
    bytes += n.self_size;
  }
  const object_statistics stats = c.h.object_stats();
  std::uint64_t heap_objects = 0;
  for (const auto& k : stats.by_kind) heap_objects += k.count;
  CHECK(objects == heap_objects);
  CHECK(bytes == c.h.statistics().used_heap_size);
  CHECK(bytes == w.total_self_size());

  // Roots: the stored document under (Global handles), the temporary under (Handle scope).
  const auto doc_node = p.find(doc.id());
  REQUIRE(doc_node);
  const std::size_t globals = p.node_named("(Global handles)");
  const std::size_t handles = p.node_named("(Handle scope)");
  CHECK(std::any_of(p.edges[globals].begin(), p.edges[globals].end(), [&](auto& e) { return e.to == *doc_node; }));
  const auto temp_node = p.find(temp.id());
  REQUIRE(temp_node);
  CHECK(std::any_of(p.edges[handles].begin(), p.edges[handles].end(), [&](auto& e) { return e.to == *temp_node; }));
  CHECK(p.nodes[*temp_node].type == "string");
  CHECK(p.nodes[*temp_node].name == "temporary");
}

TEST_CASE("heap snapshot: node and edge types follow V8", "[heap][snapshot]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto obj = c.h.new_object().value();
  auto arr = c.h.new_array().value();
  auto str = c.h.new_string("hello").value();
  auto bytes = c.h.new_byte_array(100).value();
  REQUIRE(c.h.array_push(arr, str.get()));
  REQUIRE(c.h.array_push(arr, value::integer(7)));  // a primitive: no edge
  REQUIRE(c.h.array_push(arr, bytes.get()));
  REQUIRE(c.h.set_property(obj, "list", arr.get()));
  REQUIRE(c.h.set_property(obj, "count", value::integer(3)));
  auto outer = c.h.new_context(value::null(), 1).value();
  auto ctx = c.h.new_context(outer.get(), 2).value();
  c.h.context_set(ctx, 1, obj.get());
  auto fn = c.h.new_closure(42, ctx.get()).value();
  auto weak_target = c.h.new_object().value();
  auto ref = c.h.new_weak_ref(weak_target.get()).value();
  auto map = c.h.new_weak_map().value();
  auto key = c.h.new_object().value();
  auto val = c.h.new_string("mapped").value();
  REQUIRE(c.h.weak_map_set(map, key.get(), val.get()));

  snapshot_options o;
  o.closure_name = [](std::uint64_t id) { return "handler_" + std::to_string(id); };
  const parsed p(snapshot_of(c.h, o));
  auto node = [&](const local<>& l) {
    const auto i = p.find(l.id());
    REQUIRE(i);
    return *i;
  };

  const std::size_t o_i = node(obj), a_i = node(arr), s_i = node(str), b_i = node(bytes);
  CHECK(p.nodes[o_i].type == "object");
  CHECK(p.nodes[o_i].name == "Object");
  CHECK(p.nodes[a_i].type == "array");
  CHECK(p.nodes[s_i].type == "string");
  CHECK(p.nodes[s_i].self_size == string_object::size_for(5));
  CHECK(p.nodes[b_i].type == "native");
  CHECK(p.nodes[b_i].self_size == byte_array_object::size_for(100));
  const auto* list = p.edge(o_i, "property", "list");
  REQUIRE(list);
  CHECK(list->to == a_i);
  CHECK(p.edge(o_i, "property", "count") == nullptr);  // primitives are not nodes
  const auto* props = p.edge(o_i, "internal", "properties");
  REQUIRE(props);
  CHECK(p.nodes[props->to].type == "hidden");
  CHECK(p.nodes[props->to].name == "system / FixedArray");
  REQUIRE(p.edge(a_i, "element", "0"));
  CHECK(p.edge(a_i, "element", "0")->to == s_i);
  CHECK(p.edge(a_i, "element", "1") == nullptr);
  CHECK(p.edge(a_i, "element", "2")->to == b_i);

  const std::size_t f_i = node(fn), c_i = node(ctx), outer_i = node(outer);
  CHECK(p.nodes[f_i].type == "closure");
  CHECK(p.nodes[f_i].name == "handler_42");
  REQUIRE(p.edge(f_i, "context", "context"));
  CHECK(p.edge(f_i, "context", "context")->to == c_i);
  CHECK(p.nodes[c_i].type == "object");
  CHECK(p.nodes[c_i].name == "system / Context");
  REQUIRE(p.edge(c_i, "context", "1"));
  CHECK(p.edge(c_i, "context", "1")->to == o_i);
  CHECK(p.edge(c_i, "internal", "previous")->to == outer_i);

  const std::size_t r_i = node(ref), t_i = node(weak_target);
  CHECK(p.nodes[r_i].name == "WeakRef");
  REQUIRE(p.edge(r_i, "weak", "target"));
  CHECK(p.edge(r_i, "weak", "target")->to == t_i);

  // WeakMap: the table's weak edges to key and value, and an internal key → value edge.
  const std::size_t m_i = node(map), k_i = node(key), v_i = node(val);
  CHECK(p.nodes[m_i].name == "WeakMap");
  const auto* table = p.edge(m_i, "internal", "table");
  REQUIRE(table);
  CHECK(p.nodes[table->to].name == "system / EphemeronHashTable");
  CHECK(p.edge(table->to, "weak", "key")->to == k_i);
  CHECK(p.edge(table->to, "weak", "value")->to == v_i);
  const snap_edge* pair = nullptr;
  for (const auto& e : p.edges[k_i]) {
    if (e.type == "internal" && e.name.find("part of key (Object @" + std::to_string(key.id()) + ") -> value (String @" +
                                            std::to_string(val.id()) + ") pair in WeakMap") != std::string::npos) {
      pair = &e;
    }
  }
  REQUIRE(pair);
  CHECK(pair->to == v_i);
}

TEST_CASE("heap snapshot: ids are stable across snapshots and moving GCs", "[heap][snapshot]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_object().value();
  auto b = c.h.new_string("b").value();
  REQUIRE(c.h.set_property(a, "b", b.get()));
  const parsed first(snapshot_of(c.h));
  for (int i = 0; i < 1000; ++i) {  // garbage, scavenges and promotion move a and b
    handle_scope inner(c.h);
    REQUIRE(c.h.new_string("garbage garbage garbage garbage").value().get().is_reference());
  }
  c.h.collect_garbage(gc_kind::major);
  auto later = c.h.new_object().value();
  const parsed second(snapshot_of(c.h));
  for (std::uint64_t id : {a.id(), b.id()}) {
    const auto i = first.find(id), j = second.find(id);
    REQUIRE(i);
    REQUIRE(j);
    CHECK(first.nodes[*i].name == second.nodes[*j].name);
    CHECK(first.nodes[*i].self_size == second.nodes[*j].self_size);
  }
  CHECK_FALSE(first.find(later.id()));
  CHECK(second.find(later.id()));
  CHECK(second.nodes[1].id == first.nodes[1].id);  // synthetic ids are fixed too
}

TEST_CASE("heap snapshot: GC is deferred while a writer is alive, then runs", "[heap][snapshot][gc]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto keep = c.h.new_array().value();
  std::uint64_t gcs = 0;
  {
    snapshot_options o;
    o.chunk_bytes = 256;
    heap_snapshot_writer w(c.h, o);
    gcs = c.h.tracer().event_count();
    CHECK(c.h.gc_deferred());
    std::string piece;
    REQUIRE(w.next(piece));  // the stream has started
    // Allocate several semi-spaces' worth: no GC may run, the objects go to old space.
    for (int i = 0; i < 20000; ++i) {
      REQUIRE(c.h.array_push(keep, c.h.new_string("allocated during the snapshot").value().get()));
    }
    c.h.collect_garbage(gc_kind::minor);  // explicit GCs wait too
    CHECK(c.h.tracer().event_count() == gcs);
    CHECK(c.h.old_generation_used_bytes() > c.h.new_space_capacity_bytes());
    const parsed p([&] {
      std::string all = piece;
      while (true) {
        std::string more;
        const bool again = w.next(more);
        all += more;
        if (!again) return all;
      }
    }());
    CHECK_FALSE(w.failed());
    CHECK_FALSE(p.find(c.h.array_get(keep, 0).as_object()->id()));  // born after the start
  }
  CHECK_FALSE(c.h.gc_deferred());
  CHECK(c.h.tracer().event_count() > gcs);  // the deferred GC ran when the writer died
  CHECK(c.h.array_length(keep) == 20000);
  CHECK(c.h.verify().empty());
  CHECK(c.findings.empty());
}

TEST_CASE("heap snapshot: deferred allocation still fails cleanly at the hard limit", "[heap][snapshot][gc]") {
  heap_options o = testing::small_options();
  o.max_old_space_bytes = 2 * mib;
  testing::checked_heap c(o);
  handle_scope scope(c.h);
  auto keep = c.h.new_array().value();
  heap_snapshot_writer w(c.h);
  bool failed = false;
  for (int i = 0; i < 100000 && !failed; ++i) {
    auto s = c.h.new_string(std::string(200, 'x'));
    if (!s) {
      CHECK(s.error() == heap_errc::out_of_memory);
      failed = true;
    } else if (!c.h.array_push(keep, s.value().get())) {
      failed = true;
    }
  }
  CHECK(failed);
  CHECK(c.h.old_generation_used_bytes() <= o.max_old_space_bytes);
  const parsed p(w.write_all());
  CHECK_FALSE(w.failed());
}

TEST_CASE("heap snapshot: mutations between chunks leave the output exactly as at the start", "[heap][snapshot]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto root = c.h.new_array().value();
  persistent<array_object> stored(c.h, root);
  auto map = c.h.new_weak_map().value();
  auto registry = c.h.new_finalization_registry([](heap&, local<>) {}).value();
  for (int i = 0; i < 300; ++i) {
    handle_scope inner(c.h);
    auto o = c.h.new_object().value();
    REQUIRE(c.h.set_property(o, "index", value::integer(i)));
    REQUIRE(c.h.set_property(o, "label", c.h.new_string("item " + std::to_string(i)).value().get()));
    REQUIRE(c.h.array_push(root, o.get()));
    if (i % 10 == 0) REQUIRE(c.h.weak_map_set(map, o.get(), c.h.new_string("meta").value().get()));
    if (i % 7 == 0) REQUIRE(c.h.finalization_register(registry, o.get(), value::integer(i), o.get()));
  }
  auto ctx = c.h.new_context(value::null(), 3).value();
  c.h.context_set(ctx, 0, root.get());
  c.h.clear_kept_objects();
  c.h.collect_garbage(gc_kind::major);

  snapshot_options o;
  o.collect_garbage_first = false;  // both snapshots see the very same heap
  o.chunk_bytes = 512;
  const std::string expected = snapshot_of(c.h, o);

  heap_snapshot_writer w(c.h, o);
  std::string got;
  int round = 0;
  while (true) {
    std::string piece;
    const bool more = w.next(piece);
    got += piece;
    if (!more) break;
    // Between chunks, other callbacks change every kind of object the snapshot holds.
    handle_scope inner(c.h);
    const int k = round++ % 300;
    auto item = local<js_object>(inner.make(c.h.array_get(root, static_cast<std::uint32_t>(k))).slot());
    REQUIRE(c.h.set_property(item, "extra" + std::to_string(round), c.h.new_string("new").value().get()));
    c.h.delete_property(item, "label");
    REQUIRE(c.h.array_set(root, c.h.array_length(root) + 1, value::null()));  // a hole, a longer array
    REQUIRE(c.h.array_push(root, c.h.new_object().value().get()));
    c.h.weak_map_delete(map, item.get());
    REQUIRE(c.h.weak_map_set(map, c.h.new_object().value().get(), value::integer(round)));
    c.h.finalization_unregister(registry, item.get());
    c.h.context_set(ctx, 1, item.get());
    stored.set(value::null());
  }
  CHECK_FALSE(w.failed());
  CHECK(round > 20);
  CHECK(w.memory().copied_objects > 0);
  CHECK(got == expected);
  const parsed p(got);  // and it is a valid snapshot
}

TEST_CASE("heap snapshot: names past the intern table and odd strings", "[heap][snapshot]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto obj = c.h.new_object().value();
  for (int i = 0; i < 50; ++i) REQUIRE(c.h.set_property(obj, "key" + std::to_string(i), obj.get()));
  auto ctx = c.h.new_context(value::null(), 40).value();
  for (std::uint32_t i = 0; i < 40; ++i) c.h.context_set(ctx, i, obj.get());
  auto map = c.h.new_weak_map().value();
  REQUIRE(c.h.weak_map_set(map, obj.get(), ctx.get()));
  const std::string long_text(5000, 'y');
  auto long_string = c.h.new_string(long_text).value();
  auto bad_utf8 = c.h.new_string("a\xff\xfe" "b\xc3").value();
  auto quoted = c.h.new_string("line\n\"quoted\"\\").value();

  snapshot_options o;
  o.max_interned_names = 40;  // most names are written in walk order
  const parsed p(snapshot_of(c.h, o));
  const std::size_t o_i = *p.find(obj.id());
  for (int i = 0; i < 50; ++i) {
    const auto* e = p.edge(o_i, "property", "key" + std::to_string(i));
    REQUIRE(e);
    CHECK(e->to == o_i);
  }
  const std::size_t c_i = *p.find(ctx.id());
  for (int i = 0; i < 40; ++i) CHECK(p.edge(c_i, "context", std::to_string(i)));
  CHECK(p.nodes[*p.find(long_string.id())].name == long_text.substr(0, 1024));
  CHECK(p.nodes[*p.find(long_string.id())].self_size == string_object::size_for(5000));
  CHECK(p.nodes[*p.find(bad_utf8.id())].name == "a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  CHECK(p.nodes[*p.find(quoted.id())].name == "line\n\"quoted\"\\");
}

TEST_CASE("heap snapshot: the index is a small fraction of the heap", "[heap][snapshot]") {
  heap_options ho;
  ho.verify_heap = false;
  heap h(ho);
  handle_scope scope(h);
  auto list = h.new_array().value();
  const int n = testing::small_scale() ? 20000 : 200000;
  for (int i = 0; i < n; ++i) {
    handle_scope inner(h);
    REQUIRE(h.array_push(list, h.new_object().value().get()));
  }
  heap_snapshot_writer w(h);
  const std::size_t used = h.statistics().used_heap_size;
  CHECK(w.node_count() >= static_cast<std::uint64_t>(n) + heap_snapshot_writer::synthetic_nodes);
  CHECK(w.memory().total() < used / 10);
  std::string piece;
  std::uint64_t bytes = 0;
  std::size_t largest = 0;
  while (true) {
    piece.clear();
    const bool more = w.next(piece);
    bytes += piece.size();
    largest = std::max(largest, piece.size());
    if (!more) break;
  }
  CHECK_FALSE(w.failed());
  CHECK(bytes > static_cast<std::uint64_t>(n) * 20);
  CHECK(largest < 64 * 1024 + 4096);  // pieces stay near chunk_bytes
}

}  // namespace nodus::runtime::heap

namespace nodus::runtime::heap {

TEST_CASE("heap: GC deferrals nest, the strongest deferred GC runs when the last one ends", "[heap][snapshot][gc]") {
  testing::checked_heap c;
  const std::uint64_t before = c.h.tracer().event_count();
  c.h.defer_gc();
  c.h.defer_gc();
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::major);
  c.h.collect_garbage(gc_kind::minor);
  c.h.resume_gc();
  CHECK(c.h.gc_deferred());
  CHECK(c.h.tracer().event_count() == before);
  c.h.resume_gc();
  CHECK_FALSE(c.h.gc_deferred());
  REQUIRE(c.h.tracer().event_count() == before + 1);
  CHECK(c.h.tracer().recent().back().kind == gc_kind::major);
  c.h.resume_gc();  // unbalanced: harmless
  CHECK(c.h.tracer().event_count() == before + 1);
}

TEST_CASE("heap: mutation observers hear of every change to an object's references", "[heap][snapshot]") {
  struct recorder final : heap::mutation_observer {
    std::vector<const heap_object*> seen;
    void before_mutation(const heap_object* o) noexcept override { seen.push_back(o); }
    bool saw(const heap_object* o) const { return std::find(seen.begin(), seen.end(), o) != seen.end(); }
  };
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto obj = c.h.new_object().value();
  REQUIRE(c.h.set_property(obj, "a", value::integer(1)));
  auto arr = c.h.new_array(4).value();
  auto map = c.h.new_weak_map().value();
  auto key = c.h.new_object().value();
  REQUIRE(c.h.weak_map_set(map, key.get(), value::integer(1)));
  recorder r;
  c.h.add_mutation_observer(&r);
  REQUIRE(c.h.array_set(arr, 2, obj.get()));  // a store into the elements, a new length
  CHECK(r.saw(arr.raw()));
  CHECK(r.saw(arr->elements.as_object()));
  r.seen.clear();
  REQUIRE(c.h.set_property(obj, "b", value::integer(2)));  // a new property: count and store
  CHECK(r.saw(obj.raw()));
  r.seen.clear();
  const heap_object* props = obj->properties.as_object();
  CHECK(c.h.delete_property(obj, "a"));
  CHECK(r.saw(obj.raw()));
  CHECK(r.saw(props));
  r.seen.clear();
  const heap_object* table = map->table.as_object();
  CHECK(c.h.weak_map_delete(map, key.get()));
  CHECK(r.saw(table));
  c.h.remove_mutation_observer(&r);
  r.seen.clear();
  REQUIRE(c.h.set_property(obj, "c", value::integer(3)));
  CHECK(r.seen.empty());
}

}  // namespace nodus::runtime::heap
