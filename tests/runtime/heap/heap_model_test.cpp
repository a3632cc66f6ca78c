// Model-based property test: seeded random sequences of heap operations mirrored in a plain
// C++ reachability model. After every GC (explicit or triggered by allocation) the heap must
// hold exactly the objects the model says survive, with identical contents and generations;
// WeakRefs/WeakMap entries clear exactly when the model says; FinalizationRegistry callbacks
// fire exactly once for exactly the collected targets; the verifier finds nothing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {
namespace {

using testing::checked_heap;

// A value as the model sees it: primitives by value, references by stable id.
struct mval {
  enum class tag { undefined, null, boolean, integer, number, ref } t = tag::undefined;
  std::int64_t i = 0;
  double d = 0;
  std::uint64_t id = 0;
  friend bool operator==(const mval&, const mval&) = default;
  friend bool operator<(const mval& a, const mval& b) {
    return std::tie(a.t, a.i, a.d, a.id) < std::tie(b.t, b.i, b.d, b.id);
  }
  bool is_ref() const { return t == tag::ref; }
  static mval ref(std::uint64_t id) { return {tag::ref, 0, 0, id}; }
};

mval to_mval(value v) {
  if (v.is_reference()) return mval::ref(v.as_object()->id());
  if (v.is_null()) return {mval::tag::null};
  if (v.is_boolean()) return {mval::tag::boolean, v.as_boolean() ? 1 : 0};
  if (v.is_integer()) return {mval::tag::integer, v.as_integer()};
  if (v.is_double()) return {mval::tag::number, 0, v.as_double()};
  return {};
}

std::string show(const mval& v) {
  std::ostringstream s;
  switch (v.t) {
    case mval::tag::undefined: s << "undefined"; break;
    case mval::tag::null: s << "null"; break;
    case mval::tag::boolean: s << (v.i ? "true" : "false"); break;
    case mval::tag::integer: s << v.i; break;
    case mval::tag::number: s << v.d; break;
    case mval::tag::ref: s << "#" << v.id; break;
  }
  return s.str();
}

struct cell {
  mval target, held, token;
  friend bool operator==(const cell&, const cell&) = default;
};

struct mobj {
  object_kind kind{};
  bool old = false;
  bool survived = false;
  std::string text;                              // string; byte_array bytes
  std::vector<mval> slots;                       // array elements; context slots
  std::vector<std::pair<mval, mval>> props;      // object: (key string, value); weak map entries
  mval link;                                     // context parent; closure context; weak ref target
  std::uint64_t function_id = 0;
  std::vector<cell> cells;                       // registry

  // Every outgoing reference; `weak_too` includes weak ones.
  template <class Fn>
  void for_each_ref(bool weak_too, Fn&& fn) const {
    auto f = [&](const mval& v) {
      if (v.is_ref()) fn(v.id);
    };
    for (const auto& v : slots) f(v);
    switch (kind) {
      case object_kind::object:
        for (const auto& [k, v] : props) f(k), f(v);
        break;
      case object_kind::context:
      case object_kind::closure:
        f(link);
        break;
      case object_kind::weak_ref:
        if (weak_too) f(link);
        break;
      case object_kind::weak_map:
        if (weak_too) for (const auto& [k, v] : props) f(k), f(v);
        break;
      case object_kind::finalization_registry:
        for (const auto& c : cells) {
          f(c.held);
          if (weak_too) f(c.target), f(c.token);
        }
        break;
      default:
        break;
    }
  }
};

struct pending {
  std::uint64_t registry;
  mval held, token;
};

struct model {
  std::map<std::uint64_t, mobj> objects;
  std::vector<std::vector<mval>> scopes;  // handles per open scope
  std::vector<mval> persistents;
  std::vector<std::uint64_t> kept;
  std::vector<pending> pendings;

  template <class Fn>
  void for_each_root(Fn&& fn) const {
    auto f = [&](const mval& v) {
      if (v.is_ref()) fn(v.id);
    };
    for (const auto& s : scopes)
      for (const auto& v : s) f(v);
    for (const auto& v : persistents) f(v);
    for (auto id : kept) fn(id);
    for (const auto& p : pendings) fn(p.registry), f(p.held), f(p.token);
  }

  void minor_gc() {
    // Young objects reachable from the roots or from any old object (the remembered set),
    // weak references counting as strong; old objects are untouched.
    std::set<std::uint64_t> live;
    std::vector<std::uint64_t> work;
    auto reach = [&](std::uint64_t id) {
      const mobj& o = objects.at(id);
      if (!o.old && live.insert(id).second) work.push_back(id);
    };
    for_each_root(reach);
    for (const auto& [id, o] : objects)
      if (o.old) o.for_each_ref(true, reach);
    while (!work.empty()) {
      const std::uint64_t id = work.back();
      work.pop_back();
      objects.at(id).for_each_ref(true, reach);
    }
    for (auto it = objects.begin(); it != objects.end();) {
      mobj& o = it->second;
      if (o.old) {
        ++it;
      } else if (!live.contains(it->first)) {
        it = objects.erase(it);
      } else {
        if (o.survived) o.old = true, o.survived = false;
        else o.survived = true;
        ++it;
      }
    }
  }

  void major_gc() {
    std::set<std::uint64_t> live;
    std::vector<std::uint64_t> work;
    auto mark = [&](std::uint64_t id) {
      if (live.insert(id).second) work.push_back(id);
    };
    for_each_root(mark);
    for (;;) {
      while (!work.empty()) {
        const std::uint64_t id = work.back();
        work.pop_back();
        objects.at(id).for_each_ref(false, mark);
      }
      bool progress = false;  // ephemeron fixpoint
      for (auto id : live) {
        const mobj& o = objects.at(id);
        if (o.kind != object_kind::weak_map) continue;
        for (const auto& [k, v] : o.props) {
          if (live.contains(k.id) && v.is_ref() && !live.contains(v.id)) progress = true, work.push_back(v.id);
        }
      }
      for (auto id : work) live.insert(id);
      if (!progress) break;
    }
    auto dead = [&](const mval& v) { return v.is_ref() && !live.contains(v.id); };
    for (auto id : live) {
      mobj& o = objects.at(id);
      if (o.kind == object_kind::weak_ref && dead(o.link)) o.link = {};
      if (o.kind == object_kind::weak_map) std::erase_if(o.props, [&](auto& e) { return dead(e.first); });
      if (o.kind == object_kind::finalization_registry) {
        for (auto& c : o.cells) {
          if (dead(c.token)) c.token = {};
          if (dead(c.target)) pendings.push_back({id, c.held, c.token});
        }
        std::erase_if(o.cells, [&](const cell& c) { return dead(c.target); });
      }
    }
    for (auto it = objects.begin(); it != objects.end();) {
      if (!live.contains(it->first)) {
        it = objects.erase(it);
      } else {
        it->second.old = true;
        it->second.survived = false;
        ++it;
      }
    }
  }
};

// Reads a heap object's contents in the model's terms (no allocation).
mobj read_object(heap& h, heap_object* o) {
  mobj m;
  m.kind = o->kind();
  m.old = !h.is_young(value::reference(o));
  m.survived = h.survived_once_for_testing(value::reference(o));
  switch (o->kind()) {
    case object_kind::string:
      m.text = std::string(static_cast<string_object*>(o)->view());
      break;
    case object_kind::byte_array: {
      auto bytes = static_cast<byte_array_object*>(o)->bytes();
      m.text.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      break;
    }
    case object_kind::array: {
      auto* a = static_cast<array_object*>(o);
      for (std::uint32_t i = 0; i < a->length; ++i) m.slots.push_back(to_mval(a->elements.as<fixed_array_object>()->slots()[i]));
      break;
    }
    case object_kind::object: {
      auto* obj = static_cast<js_object*>(o);
      for (std::uint32_t i = 0; i < obj->property_count; ++i) {
        const value* s = obj->properties.as<fixed_array_object>()->slots();
        m.props.emplace_back(to_mval(s[2 * i]), to_mval(s[2 * i + 1]));
      }
      break;
    }
    case object_kind::context: {
      auto* c = static_cast<context_object*>(o);
      m.link = to_mval(c->parent);
      for (std::uint32_t i = 0; i < c->slot_count; ++i) m.slots.push_back(to_mval(c->slots()[i]));
      break;
    }
    case object_kind::closure: {
      auto* f = static_cast<closure_object*>(o);
      m.link = to_mval(f->context);
      m.function_id = f->function_id;
      break;
    }
    case object_kind::weak_ref:
      m.link = to_mval(static_cast<weak_ref_object*>(o)->target);
      break;
    case object_kind::weak_map: {
      auto* t = static_cast<weak_map_object*>(o)->table.as<fixed_array_object>();
      for (std::uint32_t i = 0; i < t->capacity; i += 2) {
        if (t->slots()[i].is_reference()) m.props.emplace_back(to_mval(t->slots()[i]), to_mval(t->slots()[i + 1]));
      }
      std::sort(m.props.begin(), m.props.end());
      if (m.props.size() != t->used) m.text = "size mismatch";
      break;
    }
    case object_kind::finalization_registry: {
      auto* c = static_cast<finalization_registry_object*>(o)->cells.as<fixed_array_object>();
      for (std::uint32_t i = 0; i < c->used; ++i) {
        const value* s = c->slots() + std::size_t{i} * registry_cell_slots;
        m.cells.push_back({to_mval(s[0]), to_mval(s[1]), to_mval(s[2])});
      }
      break;
    }
    default:
      break;
  }
  return m;
}

class model_test {
 public:
  model_test(std::uint64_t seed, heap_options options) : rng_(seed), checked_(std::move(options)), h_(checked_.h) {
    h_.set_gc_observer([this](const gc_event& e) { on_gc(e); });
    scopes_.push_back(std::make_unique<handle_scope>(h_));
    handles_.emplace_back();
    m_.scopes.emplace_back();
  }

  ~model_test() {
    handles_.clear();
    persistents_.clear();
    while (!scopes_.empty()) scopes_.pop_back();
  }

  void run(int steps) {
    for (step_ = 0; step_ < steps; ++step_) {
      step();
      if (!failures_.empty()) break;
    }
    h_.collect_garbage(gc_kind::major);
    run_tasks();
  }

  std::vector<std::string> failures_;
  std::size_t gcs_[2] = {0, 0};
  std::size_t weak_cleared_ = 0, callbacks_fired_ = 0;

 private:
  // --- GC observation: apply the same GC to the model and compare -----------------------
  void on_gc(const gc_event& e) {
    ++gcs_[static_cast<int>(e.kind)];
    const std::size_t before_weak = count_weak_targets();
    if (e.kind == gc_kind::minor) m_.minor_gc();
    else m_.major_gc();
    weak_cleared_ += before_weak - std::min(before_weak, count_weak_targets());
    compare(e.kind == gc_kind::minor ? "minor" : "major");
  }

  std::size_t count_weak_targets() const {
    std::size_t n = 0;
    for (const auto& [id, o] : m_.objects) n += o.kind == object_kind::weak_ref && o.link.is_ref();
    return n;
  }

  void fail(std::string s) {
    if (failures_.size() < 20) failures_.push_back("step " + std::to_string(step_) + ": " + std::move(s));
  }

  void compare(const char* what) {
    for (auto& f : checked_.findings) fail(std::string("verifier: ") + f);
    checked_.findings.clear();
    const std::uint64_t max_id = m_.objects.empty() ? 0 : m_.objects.rbegin()->first;
    std::set<std::uint64_t> seen;
    std::size_t backing_live = 0, backing_owners = 0;
    h_.for_each_object([&](heap_object* o) {
      if (is_backing_store(o->kind())) {
        ++backing_live;
        return;
      }
      const bool owns = o->kind() == object_kind::weak_map || o->kind() == object_kind::finalization_registry ||
                        (o->kind() == object_kind::array && static_cast<array_object*>(o)->elements.is_reference()) ||
                        (o->kind() == object_kind::object && static_cast<js_object*>(o)->properties.is_reference());
      backing_owners += owns;
      auto it = m_.objects.find(o->id());
      if (it == m_.objects.end()) {
        if (o->id() <= max_id) fail(std::string(what) + ": object #" + std::to_string(o->id()) + " (" + std::string(kind_name(o->kind())) + ") should have been collected");
        return;  // under construction in the current step
      }
      seen.insert(o->id());
      mobj got = read_object(h_, o);
      const mobj& want = it->second;
      auto props = want.props;
      if (want.kind == object_kind::weak_map) std::sort(props.begin(), props.end());
      if (got.kind != want.kind || got.text != want.text || got.slots != want.slots || got.props != props ||
          got.link != want.link || got.function_id != want.function_id || !same_cells(got.cells, want.cells)) {
        fail(std::string(what) + ": contents of #" + std::to_string(o->id()) + " " + std::string(kind_name(o->kind())) + " differ" +
             (got.link != want.link ? " link " + show(got.link) + " vs " + show(want.link) : std::string()));
      }
      if (got.old != want.old || got.survived != want.survived) {
        fail(std::string(what) + ": generation of #" + std::to_string(o->id()) + " differs: old " + std::to_string(got.old) + "/" + std::to_string(want.old));
      }
    });
    for (const auto& [id, o] : m_.objects) {
      if (!seen.contains(id)) fail(std::string(what) + ": #" + std::to_string(id) + " " + std::string(kind_name(o.kind)) + " missing");
    }
    // After a major GC every backing store belongs to a live owner: dead stores are gone.
    if (std::string_view(what) == "major" && backing_live > backing_owners) {
      fail("major: " + std::to_string(backing_live - backing_owners) + " unowned backing stores survived");
    }
  }

  static bool same_cells(std::vector<cell> a, std::vector<cell> b) {
    auto less = [](const cell& x, const cell& y) {
      return std::tie(x.target, x.held, x.token) < std::tie(y.target, y.held, y.token);
    };
    std::sort(a.begin(), a.end(), less);
    std::sort(b.begin(), b.end(), less);
    return a == b;
  }

  // --- random choices -------------------------------------------------------------------------
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return static_cast<int>(pick(100)) < percent; }

  struct handle_ref {
    local<> l;
    mval* m;
  };
  // Every handle and persistent the test holds, optionally restricted to a kind.
  std::vector<handle_ref> all_handles(std::optional<object_kind> kind = {}) {
    std::vector<handle_ref> out;
    for (std::size_t s = 0; s < handles_.size(); ++s)
      for (std::size_t i = 0; i < handles_[s].size(); ++i) out.push_back({handles_[s][i], &m_.scopes[s][i]});
    for (std::size_t i = 0; i < persistents_.size(); ++i) out.push_back({persistents_[i].as_local(), &m_.persistents[i]});
    if (kind) {
      std::erase_if(out, [&](const handle_ref& r) {
        return !r.m->is_ref() || m_.objects.at(r.m->id).kind != *kind;
      });
    }
    return out;
  }
  std::optional<handle_ref> random_handle(std::optional<object_kind> kind = {}) {
    auto all = all_handles(kind);
    if (kind) {
    } else {
      std::erase_if(all, [](const handle_ref& r) { return !r.m->is_ref(); });
    }
    if (all.empty()) return std::nullopt;
    return all[pick(all.size())];
  }
  // A random value: a primitive, or a reference taken from a handle. Also returns the model view.
  std::pair<value, mval> random_value() {
    if (chance(65)) {
      if (auto r = random_handle()) return {r->l.get(), *r->m};
    }
    switch (pick(5)) {
      case 0: return {value::undefined(), {}};
      case 1: return {value::null(), {mval::tag::null}};
      case 2: return {value::boolean(true), {mval::tag::boolean, 1}};
      case 3: {
        const auto i = static_cast<std::int32_t>(pick(1000)) - 500;
        return {value::integer(i), {mval::tag::integer, i}};
      }
      default: {
        const double d = static_cast<double>(pick(1000)) / 7.0;
        return {value::number(d), to_mval(value::number(d))};
      }
    }
  }

  void add_handle(value v) {
    handles_.back().push_back(scopes_.back()->make(v));
    m_.scopes.back().push_back(to_mval(v));
  }

  // Records a freshly allocated object in the model; its generation is observed (allocation
  // placement, not GC behaviour, decides it).
  mobj& created(value v, object_kind kind) {
    mobj o;
    o.kind = kind;
    o.old = !h_.is_young(v);
    o.survived = h_.survived_once_for_testing(v);
    auto [it, inserted] = m_.objects.emplace(v.as_object()->id(), std::move(o));
    if (!inserted) fail("duplicate id");
    return it->second;
  }

  template <class T>
  local<T> require(result<local<T>> r) {
    if (!r) {
      fail("allocation failed: " + r.error().message());
      throw std::runtime_error("allocation failed");
    }
    return *r;
  }

  std::string random_text() {
    std::string s(pick(40), 'a');
    for (auto& c : s) c = static_cast<char>('a' + pick(26));
    return s;
  }

  void step() {
    const std::size_t op = pick(100);
    if (op < 8) {  // string
      const std::string text = random_text();
      auto s = require(h_.new_string(text));
      created(s.get(), object_kind::string).text = text;
      add_handle(s.get());
    } else if (op < 11) {  // byte array
      const std::string bytes = random_text();
      auto b = require(h_.new_byte_array(std::as_bytes(std::span(bytes.data(), bytes.size()))));
      created(b.get(), object_kind::byte_array).text = bytes;
      add_handle(b.get());
    } else if (op < 17) {
      auto a = require(h_.new_array());
      created(a.get(), object_kind::array);
      add_handle(a.get());
    } else if (op < 23) {
      auto o = require(h_.new_object());
      created(o.get(), object_kind::object);
      add_handle(o.get());
    } else if (op < 26) {
      auto parent = chance(50) ? random_handle(object_kind::context) : std::nullopt;
      const auto n = static_cast<std::uint32_t>(pick(5));
      auto c = require(h_.new_context(parent ? parent->l.get() : value::null(), n));
      mobj& m = created(c.get(), object_kind::context);
      m.link = parent ? *parent->m : mval{mval::tag::null};
      m.slots.assign(n, mval{});
      add_handle(c.get());
    } else if (op < 28) {
      auto ctx = random_handle(object_kind::context);
      const std::uint64_t fid = pick(100000);
      auto f = require(h_.new_closure(fid, ctx ? ctx->l.get() : value::null()));
      mobj& m = created(f.get(), object_kind::closure);
      m.function_id = fid;
      m.link = ctx ? *ctx->m : mval{mval::tag::null};
      add_handle(f.get());
    } else if (op < 31) {
      if (auto t = random_handle()) {
        const mval target = *t->m;
        auto r = require(h_.new_weak_ref(t->l.get()));
        created(r.get(), object_kind::weak_ref).link = target;
        m_.kept.push_back(target.id);
        add_handle(r.get());
      }
    } else if (op < 33) {
      auto m = require(h_.new_weak_map());
      created(m.get(), object_kind::weak_map);
      add_handle(m.get());
    } else if (op < 34) {
      auto tag = std::make_shared<std::uint64_t>(0);
      auto r = require(h_.new_finalization_registry([this, tag](heap&, local<> held) {
        fired_.push_back({*tag, to_mval(held.get()), {}});
      }));
      *tag = r.id();
      created(r.get(), object_kind::finalization_registry);
      add_handle(r.get());
    } else if (op < 44) {  // array store
      if (auto a = random_handle(object_kind::array)) {
        auto [v, mv] = random_value();
        auto& elems = m_.objects.at(a->m->id).slots;
        const bool push = elems.empty() || chance(60);
        const auto index = push ? static_cast<std::uint32_t>(elems.size()) : static_cast<std::uint32_t>(pick(elems.size() + 2));
        if (!h_.array_set(a->l.cast<array_object>(), index, v)) return fail("array_set failed");
        auto& e = m_.objects.at(a->m->id).slots;  // the model map is stable, re-fetch for clarity
        if (index >= e.size()) e.resize(index + 1);
        e[index] = mv;
      }
    } else if (op < 54) {  // property store
      auto o = random_handle(object_kind::object);
      auto k = random_handle(object_kind::string);
      if (o && k) {
        const std::string key = m_.objects.at(k->m->id).text.substr(0, 2);  // few distinct names
        const std::uint64_t oid = o->m->id;  // add_handle below invalidates the mval pointers
        // A fresh key string with exactly that text (kept as a handle), then the value.
        auto ks = require(h_.new_string(key));
        created(ks.get(), object_kind::string).text = key;
        add_handle(ks.get());
        auto [v, mv] = random_value();
        local<> obj = o->l;
        if (!h_.set_property(obj.cast<js_object>(), ks, v)) return fail("set_property failed");
        auto& props = m_.objects.at(oid).props;
        auto it = std::find_if(props.begin(), props.end(), [&](auto& p) { return m_.objects.at(p.first.id).text == key; });
        if (it != props.end()) it->second = mv;
        else props.emplace_back(mval::ref(ks.id()), mv);
      }
    } else if (op < 57) {  // property delete
      if (auto o = random_handle(object_kind::object)) {
        auto& props = m_.objects.at(o->m->id).props;
        if (props.empty()) return;
        const std::size_t i = pick(props.size());
        const std::string key = m_.objects.at(props[i].first.id).text;
        if (!h_.delete_property(o->l.cast<js_object>(), key)) return fail("delete_property failed");
        props.erase(props.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else if (op < 60) {  // context slot
      if (auto c = random_handle(object_kind::context)) {
        auto& slots = m_.objects.at(c->m->id).slots;
        if (slots.empty()) return;
        auto [v, mv] = random_value();
        const auto i = static_cast<std::uint32_t>(pick(slots.size()));
        h_.context_set(c->l.cast<context_object>(), i, v);
        slots[i] = mv;
      }
    } else if (op < 66) {  // weak map set / delete / get
      auto m = random_handle(object_kind::weak_map);
      auto k = random_handle();
      if (!m || !k) return;
      auto& entries = m_.objects.at(m->m->id).props;
      auto it = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.first == *k->m; });
      const auto got = h_.weak_map_get(m->l.cast<weak_map_object>(), k->l.get());
      if (got.has_value() != (it != entries.end()) || (got && to_mval(*got) != it->second)) return fail("weak_map_get mismatch");
      if (chance(25)) {
        if (h_.weak_map_delete(m->l.cast<weak_map_object>(), k->l.get()) != (it != entries.end())) return fail("delete mismatch");
        if (it != entries.end()) entries.erase(it);
      } else {
        auto [v, mv] = random_value();
        const mval key = *k->m;
        if (!h_.weak_map_set(m->l.cast<weak_map_object>(), k->l.get(), v)) return fail("weak_map_set failed");
        auto& e2 = m_.objects.at(m->m->id).props;
        auto it2 = std::find_if(e2.begin(), e2.end(), [&](auto& e) { return e.first == key; });
        if (it2 != e2.end()) it2->second = mv;
        else e2.emplace_back(key, mv);
      }
    } else if (op < 70) {  // weak ref deref
      if (auto r = random_handle(object_kind::weak_ref)) {
        const value got = h_.weak_ref_deref(r->l.cast<weak_ref_object>());
        const mval want = m_.objects.at(r->m->id).link;
        if (to_mval(got) != want) return fail("deref: got " + show(to_mval(got)) + " want " + show(want));
        if (want.is_ref()) m_.kept.push_back(want.id);
      }
    } else if (op < 73) {  // register / unregister
      auto r = random_handle(object_kind::finalization_registry);
      if (!r) return;
      if (chance(75)) {
        auto t = random_handle();
        if (!t || *t->m == *r->m) return;
        auto [held, mheld] = random_value();
        if (mheld == *t->m) return;
        const bool with_token = chance(50);
        auto tok = with_token ? random_handle() : std::nullopt;
        const mval target = *t->m, token = tok ? *tok->m : mval{};
        if (!h_.finalization_register(r->l.cast<finalization_registry_object>(), t->l.get(), held,
                                      tok ? tok->l.get() : value::undefined())) {
          return fail("register failed");
        }
        m_.objects.at(r->m->id).cells.push_back({target, mheld, token});
      } else if (auto tok = random_handle()) {
        const mval token = *tok->m;
        const std::uint64_t reg = r->m->id;
        const bool removed = h_.finalization_unregister(r->l.cast<finalization_registry_object>(), tok->l.get());
        auto& cells = m_.objects.at(reg).cells;
        const std::size_t before = cells.size() + m_.pendings.size();
        std::erase_if(cells, [&](const cell& c) { return c.token == token; });
        std::erase_if(m_.pendings, [&](const pending& p) { return p.registry == reg && p.token == token; });
        if (removed != (before != cells.size() + m_.pendings.size())) return fail("unregister result mismatch");
      }
    } else if (op < 77) {  // scopes
      if (chance(50) || scopes_.size() == 1) {
        scopes_.push_back(std::make_unique<handle_scope>(h_));
        handles_.emplace_back();
        m_.scopes.emplace_back();
      } else {
        handles_.pop_back();
        m_.scopes.pop_back();
        scopes_.pop_back();
      }
    } else if (op < 80) {  // persistents
      if (chance(55)) {
        if (auto r = random_handle()) {
          persistents_.emplace_back(h_, r->l.get());
          m_.persistents.push_back(*r->m);
        }
      } else if (!persistents_.empty()) {
        const std::size_t i = pick(persistents_.size());
        persistents_.erase(persistents_.begin() + static_cast<std::ptrdiff_t>(i));
        m_.persistents.erase(m_.persistents.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else if (op < 85) {  // load a reference field into a new handle
      if (auto r = random_handle()) {
        const mobj& o = m_.objects.at(r->m->id);
        std::vector<std::pair<value, mval>> fields;
        heap_object* raw = r->l.raw();
        h_.for_each_reference(raw, [&](const heap_reference& ref) {
          if (ref.kind != edge_kind::internal && ref.kind != edge_kind::weak) fields.emplace_back(ref.target, to_mval(ref.target));
        });
        if (o.kind == object_kind::weak_map || o.kind == object_kind::weak_ref || o.kind == object_kind::finalization_registry) return;
        std::set<std::uint64_t> want;
        o.for_each_ref(false, [&](std::uint64_t id) { want.insert(id); });
        for (auto& f : fields) {
          if (!want.contains(f.second.id)) return fail("for_each_reference reports #" + std::to_string(f.second.id) + " unknown to the model");
        }
        if (!fields.empty()) add_handle(fields[pick(fields.size())].first);
      }
    } else if (op < 88) {
      h_.clear_kept_objects();
      m_.kept.clear();
    } else if (op < 91) {  // garbage churn: fills new space, triggers scavenges
      handle_scope scope(h_);
      const std::size_t n = 20 + pick(200);
      for (std::size_t i = 0; i < n; ++i) {
        auto s = require(h_.new_string(random_text()));
        created(s.get(), object_kind::string).text = std::string(s->view());
        // Discarded right away: the model forgets the handle when the scope closes.
        m_.scopes.back().push_back(to_mval(s.get()));
        m_.scopes.back().pop_back();
      }
    } else if (op < 94) {
      h_.collect_garbage(gc_kind::minor);
    } else if (op < 96) {
      h_.collect_garbage(gc_kind::major);
    } else {
      run_tasks();
    }
  }

  void run_tasks() {
    checked_.tasks.run_all();
    h_.run_finalization_cleanups();  // none left if the task ran
    // Exactly the pending cleanups fired, once each.
    std::vector<std::pair<std::uint64_t, mval>> want, got;
    for (auto& p : m_.pendings) want.emplace_back(p.registry, p.held);
    for (auto& f : fired_) got.emplace_back(f.registry, f.held);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (want != got) fail("finalization callbacks: fired " + std::to_string(got.size()) + ", expected " + std::to_string(want.size()));
    callbacks_fired_ += got.size();
    m_.pendings.clear();
    fired_.clear();
  }

  std::mt19937_64 rng_;
  checked_heap checked_;
  heap& h_;
  model m_;
  std::vector<std::unique_ptr<handle_scope>> scopes_;
  std::vector<std::vector<local<>>> handles_;
  std::vector<persistent<>> persistents_;
  std::vector<pending> fired_;
  int step_ = 0;
};

}  // namespace

TEST_CASE("heap model: random operation sequences survive exactly as the model predicts", "[heap][model]") {
  const bool small = testing::small_scale();
  const int seeds = small ? 3 : 12;
  const int steps = small ? 1500 : 4000;
  std::size_t minor = 0, major = 0, cleared = 0, fired = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    heap_options o = testing::small_options();
    // Vary the geometry so that automatic scavenges and major GCs both happen.
    o.semi_space_bytes = seed % 2 ? 16 * 1024 : 64 * 1024;
    o.max_semi_space_bytes = 128 * 1024;
    o.initial_old_space_limit_bytes = seed % 3 ? 256 * 1024 : 1 * mib;
    o.compaction_live_ratio = seed % 4 == 0 ? 0.0 : 0.7;
    model_test t(static_cast<std::uint64_t>(seed) * 7919, o);
    t.run(steps);
    INFO("seed " << seed);
    for (auto& f : t.failures_) UNSCOPED_INFO(f);
    REQUIRE(t.failures_.empty());
    minor += t.gcs_[0];
    major += t.gcs_[1];
    cleared += t.weak_cleared_;
    fired += t.callbacks_fired_;
  }
  // The sequences must actually exercise the collectors and the weak semantics.
  CHECK(minor > static_cast<std::size_t>(seeds) * 20);
  CHECK(major > static_cast<std::size_t>(seeds) * 5);
  CHECK(cleared > 0);
  CHECK(fired > 0);
}

}  // namespace nodus::runtime::heap
