#include "app/serve.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

#include "handlers/basic.hpp"
#include "handlers/debug_heap.hpp"
#include "handlers/debug_loop.hpp"
#include "handlers/demo_heap.hpp"
#include "handlers/files.hpp"
#include "handlers/heap_snapshot.hpp"
#include "handlers/isolates.hpp"
#include "handlers/metrics.hpp"
#include "handlers/objects.hpp"
#include "handlers/workers.hpp"
#include "runtime/heap/heap.hpp"
#include "runtime/loop/event_loop.hpp"
#include "server/loop_server.hpp"
#include "server/options.hpp"
#include "server/router.hpp"

namespace nodus::app {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using runtime::loop::event_loop;

namespace {

server::server_options server_options_from(const config::config& cfg,
                                           std::shared_ptr<spdlog::logger> access_log) {
  server::server_options o;
  o.max_body = cfg.max_body;
  o.max_header = cfg.max_header;
  o.max_uri = cfg.max_uri;
  o.max_pipeline = cfg.max_pipeline;
  o.idle_timeout = cfg.idle_timeout;
  o.request_timeout = cfg.request_timeout;
  o.write_timeout = cfg.request_timeout;
  o.linger_timeout = std::min(o.linger_timeout, cfg.request_timeout);
  o.shutdown_timeout = cfg.shutdown_timeout;
  o.access_log = std::move(access_log);
  return o;
}

// --host as an endpoint: an IP address, or a name resolved once at start-up.
std::optional<tcp::endpoint> resolve(const config::config& cfg, std::string& why) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(cfg.host, ec);
  if (!ec) return tcp::endpoint(address, cfg.port);
  net::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(cfg.host, std::to_string(cfg.port),
                                        tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    why = ec ? ec.message() : "no address";
    return std::nullopt;
  }
  return results.begin()->endpoint();
}

std::string url_of(const tcp::endpoint& ep) {
  const auto address = ep.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return "http://" + host + ":" + std::to_string(ep.port());
}

runtime::heap::heap_options heap_options_from(const config::config& cfg) {
  runtime::heap::heap_options o;
  o.semi_space_bytes = std::size_t{cfg.semi_space_mb} * runtime::heap::mib;
  o.max_semi_space_bytes = std::size_t{cfg.max_semi_space_mb} * runtime::heap::mib;
  o.max_old_space_bytes = std::size_t{cfg.max_old_space_size_mb} * runtime::heap::mib;
  o.initial_old_space_limit_bytes = std::min(o.initial_old_space_limit_bytes, o.max_old_space_bytes);
  o.trace_gc = cfg.trace_gc;  // lines go to spdlog's default logger
  o.verify_heap = cfg.verify_heap;
  return o;
}

struct bind_result {
  boost::system::error_code ec;
  tcp::endpoint local;
};

// One loop thread. The thread owns its event_loop and loop_server; main reaches them only
// through `mutex` while they exist.
struct loop_thread {
  std::promise<bind_result> bound;
  std::promise<bool> go;  // true: serve; false: start-up failed elsewhere, just exit
  std::thread thread;
  std::mutex mutex;
  event_loop* loop = nullptr;
  server::loop_server* server = nullptr;

  void run(unsigned index, tcp::endpoint endpoint, bool exclusive, const server::router& routes,
           const server::server_options& options, const config::config& cfg,
           handlers::isolate_registry& isolates) {
    // As top -H, perf and /proc/<pid>/task/*/comm show it (the pool's are "nodus-worker-<i>").
    ::pthread_setname_np(::pthread_self(), ("nodus-loop-" + std::to_string(index)).c_str());
    event_loop lp(runtime::loop::system_clock(), index);
    // The loop's managed heap: FinalizationRegistry cleanups run as immediates, and kept
    // WeakRef targets are released at every microtask checkpoint, as V8 does.
    runtime::heap::heap heap(heap_options_from(cfg),
                             [&lp](runtime::heap::heap::task t) { lp.set_immediate(std::move(t)); });
    lp.add_checkpoint_observer([&heap] { heap.clear_kept_objects(); });
    server::loop_server srv(lp, routes, options);
    handlers::isolate iso{lp, heap, srv};
    auto go_future = go.get_future();
    const auto ec = srv.listen(endpoint, exclusive);
    {
      std::lock_guard lock(mutex);
      loop = &lp;
      server = &srv;
    }
    isolates.attach(index, &iso);
    bound.set_value({ec, srv.local_endpoint()});
    if (!ec && go_future.get()) {
      srv.start();
      lp.run();  // the one place that drives this loop; returns once the server drained
    }
    isolates.detach(index);
    std::lock_guard lock(mutex);
    loop = nullptr;
    server = nullptr;
  }

  // Runs `fn(server)` on the loop thread, if the loop is still there.
  template <class Fn>
  void post(Fn fn) {
    std::lock_guard lock(mutex);
    if (loop == nullptr) return;
    loop->post([srv = server, fn] { fn(*srv); });
  }
};

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_shutdown_signals() {
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int serve(const config::config& cfg, std::shared_ptr<spdlog::logger> access_log) {
  std::string why;
  const auto endpoint = resolve(cfg, why);
  if (!endpoint) {
    std::fprintf(stderr, "nodus: --host %s: %s\n", cfg.host.c_str(), why.c_str());
    return 2;
  }
  const server::server_options options = server_options_from(cfg, std::move(access_log));
  // One worker pool shared by every loop, created before them and destroyed after them: a
  // queued or running job keeps its loop alive (a tracked request), so once the loops have
  // been joined nothing is left to post back.
  runtime::workers::worker_pool pool(
      runtime::workers::pool_options{
          .threads = cfg.workers,
          .queue_capacity = cfg.worker_queue,
          .nice_increment = cfg.worker_nice,
          .policy = cfg.worker_policy == "normal" ? runtime::workers::thread_policy::normal
                                                  : runtime::workers::thread_policy::idle,
          .thread_name = "nodus-worker"});
  const unsigned loops = std::max(1u, cfg.loops);
  handlers::isolate_registry isolates(loops);
  server::router routes;
  handlers::register_basic(routes, cfg);
  auto files = handlers::register_files(routes, cfg);  // /files/, the site at /, /stream
  handlers::register_debug_loop(routes, isolates);
  handlers::register_debug_heap(routes, isolates);
  handlers::register_heap_snapshot(routes, isolates);
  handlers::register_demo_heap(routes, isolates);
  handlers::register_objects(routes, isolates);
  handlers::register_workers(routes, pool, cfg);
  handlers::register_metrics(routes, isolates, pool, files);

  // Signals are taken by sigtimedwait below; every thread inherits the blocked mask.
  const sigset_t signals = shutdown_signals();  // blocked since block_shutdown_signals()

  std::vector<std::unique_ptr<loop_thread>> threads;
  tcp::endpoint bind_to = *endpoint;
  boost::system::error_code bind_error;
  for (unsigned k = 0; k < loops && !bind_error; ++k) {
    auto& t = *threads.emplace_back(std::make_unique<loop_thread>());
    auto bound = t.bound.get_future();
    // Loop 0 picks the port (also for --port 0); the others join it.
    t.thread = std::thread([&t, k, bind_to, &routes, &options, &cfg, &isolates] {
      t.run(k, bind_to, k == 0, routes, options, cfg, isolates);
    });
    const bind_result r = bound.get();
    bind_error = r.ec;
    if (k == 0) bind_to = r.local;
  }
  for (auto& t : threads) t->go.set_value(!bind_error);
  if (bind_error) {
    for (auto& t : threads) t->thread.join();
    std::fprintf(stderr, "nodus: cannot listen on %s: %s\n", url_of(*endpoint).c_str(),
                 bind_error.message().c_str());
    return 2;
  }
  std::printf("nodus listening on %s\n", url_of(bind_to).c_str());
  std::fflush(stdout);

  // Wait for SIGINT/SIGTERM while the loops serve; a second signal forces the close.
  int signals_seen = 0;
  const auto all_done = [&] {
    for (auto& t : threads) {
      std::lock_guard lock(t->mutex);
      if (t->loop != nullptr) return false;
    }
    return true;
  };
  while (!all_done()) {
    const timespec tick{0, 200'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig < 0) continue;
    if (++signals_seen == 1) {
      spdlog::info("signal {}: shutting down (at most {} ms)", sig, cfg.shutdown_timeout.count());
      for (auto& t : threads) t->post([](server::loop_server& s) { s.begin_shutdown(); });
    } else {
      spdlog::warn("signal {}: closing all connections now", sig);
      for (auto& t : threads) t->post([](server::loop_server& s) { s.force_close(); });
    }
  }
  for (auto& t : threads) t->thread.join();
  return 0;
}

}  // namespace nodus::app
