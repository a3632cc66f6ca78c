#pragma once
// isolates: every loop's per-loop state (its event loop, managed heap, HTTP server), so a
// handler running on one loop can read another loop's state — always on that loop's own
// thread, never by reaching across threads.
//
// Loop k attaches its isolate on its own thread before serving and detaches it before its
// objects die; the registry's mutex makes post() to a loop that is gone a no-op.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

#include "runtime/loop/event_loop.hpp"

namespace nodus::runtime::heap {
class heap;
}
namespace nodus::server {
class loop_server;
}

namespace nodus::handlers {

class isolate {
 public:
  isolate(runtime::loop::event_loop& l, runtime::heap::heap& h, server::loop_server& s) noexcept
      : loop(l), heap(h), server(s) {}
  isolate(const isolate&) = delete;
  isolate& operator=(const isolate&) = delete;
  // Destroys the handlers' states, newest first. The isolate dies before its heap, so
  // persistent handles held by a state are released while the heap still exists.
  ~isolate();

  runtime::loop::event_loop& loop;
  runtime::heap::heap& heap;
  server::loop_server& server;

  // A handler module's per-loop state (object store, caches, demos): one T per isolate,
  // constructed as T(isolate&) on first use. Loop thread only.
  template <class T>
  T& state();

 private:
  std::vector<std::pair<std::type_index, std::shared_ptr<void>>> states_;
};

template <class T>
T& isolate::state() {
  for (auto& [type, ptr] : states_) {
    if (type == std::type_index(typeid(T))) return *static_cast<T*>(ptr.get());
  }
  auto owned = std::make_shared<T>(*this);
  T& ref = *owned;
  states_.emplace_back(std::type_index(typeid(T)), std::move(owned));
  return ref;
}

class isolate_registry {
 public:
  explicit isolate_registry(unsigned loops) : slots_(loops) {}

  unsigned size() const noexcept { return static_cast<unsigned>(slots_.size()); }
  void attach(unsigned index, isolate* iso);
  void detach(unsigned index);

  // The isolate of the calling loop thread (`index` = ctx.loop.index()); null before attach
  // and after detach. Use it only on that loop's thread.
  isolate* local(unsigned index) const;

  // Runs fn on loop `index`'s thread (its poll phase). False if that loop is gone.
  bool post(unsigned index, std::function<void(isolate&)> fn) const;

  // Runs `fn` on each loop in `which` (each on its own thread), then `done` with the results
  // in `which` order on `origin`'s thread. A loop that is gone yields nullopt.
  template <class T>
  void gather(runtime::loop::event_loop& origin, std::vector<unsigned> which,
              std::function<T(isolate&)> fn,
              std::function<void(std::vector<std::optional<T>>)> done) const;

 private:
  struct slot {
    isolate* iso = nullptr;
  };
  mutable std::mutex mutex_;
  std::vector<slot> slots_;
};

// Which loops a debug request selects: every loop, or the one named by ?loop=k.
// Returns nullopt when `loop_param` is not a valid index (the caller answers 400).
std::optional<std::vector<unsigned>> select_loops(const isolate_registry& isolates,
                                                  std::optional<std::string_view> loop_param);

template <class T>
void isolate_registry::gather(runtime::loop::event_loop& origin, std::vector<unsigned> which,
                              std::function<T(isolate&)> fn,
                              std::function<void(std::vector<std::optional<T>>)> done) const {
  // All counting happens on `origin`'s thread: each loop posts its result back there.
  struct state {
    std::vector<std::optional<T>> results;
    std::size_t remaining;
    std::function<void(std::vector<std::optional<T>>)> done;
  };
  auto st = std::make_shared<state>(state{std::vector<std::optional<T>>(which.size()),
                                          which.size(), std::move(done)});
  auto arrive = [st](std::size_t i, std::optional<T> r) {
    st->results[i] = std::move(r);
    if (--st->remaining == 0) st->done(std::move(st->results));
  };
  if (which.empty()) return st->done({});
  for (std::size_t i = 0; i < which.size(); ++i) {
    const bool posted = post(which[i], [&origin, i, fn, arrive](isolate& iso) {
      origin.post([i, arrive, r = fn(iso)]() mutable { arrive(i, std::move(r)); });
    });
    if (!posted) origin.post([i, arrive] { arrive(i, std::nullopt); });
  }
}

}  // namespace nodus::handlers
