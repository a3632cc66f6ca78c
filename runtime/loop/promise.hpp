#pragma once
// promise<T>: a small single-threaded promise bound to an event_loop. resolve()/reject() from
// any callback on the loop's thread; then()/catch_() continuations run as microtasks, in
// registration order, like PromiseReactionJobs. A continuation that throws rejects the
// derived promise; one that returns a promise<U> is adopted with JS's extra microtask
// (NewPromiseResolveThenableJob), so chains interleave with other microtasks as in Node.
// Unhandled rejections are dropped silently (no 'unhandledRejection').
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/loop/event_loop.hpp"

namespace nodus::runtime::loop {

template <class T>
class promise;

namespace detail {
template <class T>
struct is_promise : std::false_type {};
template <class T>
struct is_promise<promise<T>> : std::true_type {
  using inner_type = T;
};
template <class F, class T>
struct then_result {
  using type = std::invoke_result_t<F, T&>;
};
template <class F>
struct then_result<F, void> {
  using type = std::invoke_result_t<F>;
};
template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
}  // namespace detail

template <class T>
class promise {
  using stored = detail::stored_t<T>;
  struct state {
    explicit state(event_loop& l) : loop(&l) {}
    event_loop* loop;
    std::optional<stored> value;
    std::exception_ptr error;
    std::vector<callback> reactions;  // run (as microtasks) once settled
    bool settled() const noexcept { return value.has_value() || error != nullptr; }
  };

 public:
  using value_type = T;

  explicit promise(event_loop& loop) : state_(std::make_shared<state>(loop)) {}

  static promise resolved(event_loop& loop) requires std::is_void_v<T> {
    promise p(loop);
    p.resolve();
    return p;
  }
  template <class U = T>
  static promise resolved(event_loop& loop, U&& v) requires(!std::is_void_v<T>) {
    promise p(loop);
    p.resolve(std::forward<U>(v));
    return p;
  }

  // Settling twice is ignored, as in JS.
  void resolve() requires std::is_void_v<T> { settle(std::monostate{}, nullptr); }
  template <class U = T>
  void resolve(U&& v) requires(!std::is_void_v<T>) { settle(stored(std::forward<U>(v)), nullptr); }
  void reject(std::exception_ptr e) { settle(std::nullopt, e ? e : std::make_exception_ptr(std::runtime_error("rejected"))); }

  bool is_pending() const noexcept { return !state_->settled(); }
  bool is_fulfilled() const noexcept { return state_->value.has_value(); }
  bool is_rejected() const noexcept { return state_->error != nullptr; }

  // then(on_fulfilled): on_fulfilled(T) (or () for promise<void>) -> R | promise<R>.
  template <class F>
  auto then(F on_fulfilled) {
    using R = typename detail::then_result<F, T>::type;
    using result_value = typename adopt_traits<R>::value;
    promise<result_value> next(*state_->loop);
    add_reaction([st = state_, next, f = std::move(on_fulfilled)]() mutable {
      if (st->error) return next.reject(st->error);
      if constexpr (std::is_void_v<T>) {
        run_into(next, [&]() -> R { return f(); });
      } else {
        run_into(next, [&]() -> R { return f(*st->value); });
      }
    });
    return next;
  }

  // catch_(on_rejected): on_rejected(std::exception_ptr) -> T (or void for promise<void>).
  template <class F>
  promise<T> catch_(F on_rejected) {
    promise<T> next(*state_->loop);
    add_reaction([st = state_, next, f = std::move(on_rejected)]() mutable {
      if (!st->error) {
        if constexpr (std::is_void_v<T>) next.resolve(); else next.resolve(*st->value);
        return;
      }
      run_into(next, [&]() { return f(st->error); });
    });
    return next;
  }

 private:
  template <class U>
  friend class promise;

  template <class R>
  struct adopt_traits {
    using value = R;
  };
  template <class U>
  struct adopt_traits<promise<U>> {
    using value = U;
  };

  // Runs `body` and settles `next` with its outcome (adopting a returned promise).
  template <class N, class Body>
  static void run_into(N& next, Body&& body) {
    using R = std::invoke_result_t<Body>;
    try {
      if constexpr (detail::is_promise<R>::value) {
        R inner = body();
        // NewPromiseResolveThenableJob: one microtask before inner.then() is attached.
        next.state_->loop->queue_microtask([inner, next]() mutable {
          inner.add_reaction([inner, next]() mutable {
            if (inner.state_->error) return next.reject(inner.state_->error);
            if constexpr (std::is_void_v<typename detail::is_promise<R>::inner_type>) next.resolve();
            else next.resolve(*inner.state_->value);
          });
        });
      } else if constexpr (std::is_void_v<R>) {
        body();
        next.resolve();
      } else {
        next.resolve(body());
      }
    } catch (...) {
      next.reject(std::current_exception());
    }
  }

  void add_reaction(callback reaction) {
    if (state_->settled()) state_->loop->queue_microtask(std::move(reaction));
    else state_->reactions.push_back(std::move(reaction));
  }

  void settle(std::optional<stored> v, std::exception_ptr e) {
    if (state_->settled()) return;
    if (e) state_->error = e; else state_->value = std::move(v);
    for (auto& r : state_->reactions) state_->loop->queue_microtask(std::move(r));
    state_->reactions.clear();
  }

  std::shared_ptr<state> state_;
};

}  // namespace nodus::runtime::loop
