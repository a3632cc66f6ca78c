// Worker-pool job throughput: what one pool thread does per second. loadtest/bench_workers.sh
// runs this beside `openssl speed -evp sha256` and writes loadtest/results/workers.md.
#include <benchmark/benchmark.h>

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "runtime/workers/hasher.hpp"
#include "runtime/workers/image_resize.hpp"
#include "runtime/workers/vips_runtime.hpp"
#include "tests/runtime/workers/test_images.hpp"

namespace w = nodus::runtime::workers;

namespace {

const std::string& random_64mib() {
  static const std::string data = [] {
    std::string s(64u << 20, '\0');
    std::mt19937_64 rng(1);
    for (std::size_t i = 0; i + 8 <= s.size(); i += 8) {
      const std::uint64_t x = rng();
      std::memcpy(s.data() + i, &x, 8);
    }
    return s;
  }();
  return data;
}

// 64 MiB fed in chunks of state.range(0) bytes, as request-body chunks arrive; per thread.
void bm_digest_64mib(benchmark::State& state, w::digest_alg alg) {
  const std::string& data = random_64mib();
  const auto chunk = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    w::hasher h(alg);
    for (std::size_t pos = 0; pos < data.size(); pos += chunk)
      h.update(std::string_view(data).substr(pos, chunk));
    benchmark::DoNotOptimize(h.finish());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
// Single-thread rates are per CPU second, as `openssl speed` reports (user CPU time); the
// two-thread run is wall-clock, to show how the pool scales on this machine.
BENCHMARK_CAPTURE(bm_digest_64mib, sha256, w::digest_alg::sha256)->Arg(64 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_digest_64mib, sha256, w::digest_alg::sha256)
    ->Arg(64 << 10)->Threads(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bm_digest_64mib, sha512, w::digest_alg::sha512)->Arg(64 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_digest_64mib, md5, w::digest_alg::md5)->Arg(64 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_digest_64mib, blake2b512, w::digest_alg::blake2b512)->Arg(64 << 10)->Unit(benchmark::kMillisecond);

// GET /hash/files's job on a 64 MiB file in the page cache: workers::hash_file, outside a job,
// so it runs to the end; `mapped` hashes the bytes in place (what the server does), `pread`
// copies them into a 512 KiB buffer first. Next to bm_digest_64mib (the same bytes from
// memory), they give the cost of getting the bytes.
void bm_sha256_file_64mib(benchmark::State& state, w::file_read how) {
  // Written once, unlinked at once: the open descriptor keeps it (and its page cache).
  static const int fd = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nodus-bench-XXXXXX").string();
    const int f = ::mkstemp(tmpl.data());
    if (f < 0) std::abort();
    ::unlink(tmpl.c_str());
    const std::string& data = random_64mib();
    for (std::size_t off = 0; off < data.size();) {
      const ssize_t n = ::write(f, data.data() + off, data.size() - off);
      if (n <= 0) std::abort();
      off += static_cast<std::size_t>(n);
    }
    return f;
  }();
  for (auto _ : state) {
    auto r = w::hash_file(w::hasher(w::digest_alg::sha256), fd, 0, how);
    if (r.error != 0 || r.bytes != random_64mib().size()) state.SkipWithError("hash_file failed");
    benchmark::DoNotOptimize(r.digest);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * random_64mib().size()));
}
BENCHMARK_CAPTURE(bm_sha256_file_64mib, mapped, w::file_read::mapped)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_sha256_file_64mib, pread, w::file_read::pread)->Unit(benchmark::kMillisecond);

// The workload: a 4000x3000 JPEG → 800 px wide, JPEG q80. Synthetic (gradients +
// blurred noise, libvips Q75), made once.
const std::string& jpeg_4000x3000() {
  static const std::string data = [] {
    if (!w::init_vips().empty()) std::abort();
    return nodus::test::make_test_file(4000, 3000, ".jpg");
  }();
  return data;
}

// nodus's pipeline: header, shrink-on-load (JPEG 1/4 here), lanczos3 for the rest.
void bm_resize_800(benchmark::State& state) {
  const std::string& in = jpeg_4000x3000();
  const w::resize_params p{.width = 800, .fit = w::image_fit::inside, .format = w::image_format::jpeg, .quality = 80};
  for (auto _ : state) {
    auto r = w::resize_image(in, p);
    if (!r.ok() || r.image->width != 800) state.SkipWithError("resize failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
// Process CPU time: libvips runs the decode/resize/encode on its own worker thread
// (concurrency 1) while the calling thread waits, so the caller's CPU time says nothing, and
// wall-clock time counts whatever else the machine runs.
BENCHMARK(bm_resize_800)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(bm_resize_800)->Threads(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The alternative measured for the choice: libvips's own thumbnail_buffer (it shrinks on
// load too, but keeps at least 2x for its resampler, so it decodes JPEG at 1/2 here).
void bm_thumbnail_buffer_800(benchmark::State& state) {
  const std::string& in = jpeg_4000x3000();
  for (auto _ : state) {
    vips::VImage img = vips::VImage::thumbnail_buffer(const_cast<char*>(in.data()), in.size(), 800,
                                                      vips::VImage::option()->set("height", 10000000));
    void* buf = nullptr;
    std::size_t size = 0;
    img.write_to_buffer(".jpg", &buf, &size,
                        vips::VImage::option()->set("Q", 80)->set("optimize_coding", true)->set("keep", VIPS_FOREIGN_KEEP_NONE));
    if (img.width() != 800) state.SkipWithError("thumbnail failed");
    g_free(buf);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(bm_thumbnail_buffer_800)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
