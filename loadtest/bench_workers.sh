#!/usr/bin/env bash
# Worker-job benchmarks: bench/workers (Google Benchmark) beside `openssl speed -evp sha256`,
# on one pinned CPU for the single-thread rates; writes loadtest/results/workers.md.
# Usage: loadtest/bench_workers.sh [--no-build] [--reps N] [--cpu K]
#   BUILD_DIR (default build/release) is configured with the release preset.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1 reps=5 cpu=$(( $(nproc) - 1 ))
while [[ $# -gt 0 ]]; do
  case $1 in
    --no-build) build=0 ;;
    --reps) reps=$2; shift ;;
    --cpu) cpu=$2; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "bench_workers: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD_DIR=${BUILD_DIR:-build/release}

if [[ $build == 1 ]]; then
  scripts/install-deps.sh build
  cmake --preset release -B "$BUILD_DIR" >/dev/null
  cmake --build "$BUILD_DIR" --target workers_bench
fi
bench=$BUILD_DIR/bench/workers/workers_bench
out=loadtest/out/workers-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" loadtest/results

common=(--benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true --benchmark_format=json)
cmd_single=(taskset -c "$cpu" "$bench" "${common[@]}" '--benchmark_filter=^[^:]*$')
cmd_multi=("$bench" "${common[@]}" '--benchmark_filter=threads:2')
cmd_openssl=(taskset -c "$cpu" openssl speed -evp sha256 -bytes 65536 -seconds 3)

echo "bench_workers: single thread on CPU $cpu ($reps repetitions)" >&2
"${cmd_single[@]}" > "$out/single.json"
echo "bench_workers: two threads" >&2
"${cmd_multi[@]}" > "$out/multi.json"
echo "bench_workers: openssl speed x3" >&2
for i in 1 2 3; do "${cmd_openssl[@]}" 2>/dev/null | awk '$1 == "sha256" { sub(/k$/, "", $2); print $2 * 1000 }'; done > "$out/openssl.txt"

machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
vips=$(node -p "require('./third_party/libvips/node_modules/@img/sharp-libvips-linux-x64/versions.json').vips")

node - "$out" "$machine" "$vips" "$(openssl version)" "$(uptime | sed 's/.*load average: //')" \
  "${cmd_single[*]}" "${cmd_multi[*]}" "${cmd_openssl[*]}" > loadtest/results/workers.md <<'EOF'
const fs = require('fs');
const [out, machine, vips, openssl, load, cmdSingle, cmdMulti, cmdOpenssl] = process.argv.slice(2);
const rows = [];
for (const f of ['single.json', 'multi.json']) {
  const j = JSON.parse(fs.readFileSync(`${out}/${f}`, 'utf8'));
  for (const b of j.benchmarks) if (b.aggregate_name === 'median') rows.push(b);
}
const get = (name) => rows.find((b) => b.run_name === name);
const sslRuns = fs.readFileSync(`${out}/openssl.txt`, 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b);
const ssl = sslRuns[Math.floor(sslRuns.length / 2)];
const MB = (bps) => (bps / 1e6).toFixed(0);
const line = (...c) => `| ${c.join(' | ')} |`;
const p = [];
p.push('## Worker jobs (bench/workers)', '');
p.push(`Machine: ${machine}. libvips ${vips} (sharp's npm build), ${openssl}. Load average at the end: ${load}.`);
p.push('Medians of the repetitions; single-thread rows pinned to one CPU, like `openssl speed`. The',
       'resize input is a synthetic 4000x3000 JPEG (gradients + blurred noise, made by the benchmark).',
       'Wall-clock rows (2 threads) count time other processes take from the CPUs: compare them only',
       'between runs at a low load average. CPU-time rows (1 thread, openssl speed) do not.', '');
p.push(line('benchmark', 'result', 'peer', 'ratio'), line('---', '---', '---', '---'));
const sha = get('bm_digest_64mib/sha256/65536');
if (sha) p.push(line('sha256, 64 MiB in 64 KiB chunks, 1 thread (per CPU second)', `${MB(sha.bytes_per_second)} MB/s`,
                     `openssl speed -evp sha256 (64 KiB blocks): ${MB(ssl)} MB/s`, (sha.bytes_per_second / ssl).toFixed(2)));
for (const [how, what] of [['mapped', 'hashed in place through mapping windows of up to 8 MiB, GET /hash/files\'s job'],
                           ['pread', 'pread into a 512 KiB buffer, then hashed']]) {
  const file = get(`bm_sha256_file_64mib/${how}`);
  if (file) p.push(line(`sha256 of a 64 MiB file in the page cache: workers::hash_file, ${how} (${what}), 1 thread`,
                        `${MB(file.bytes_per_second)} MB/s`, `openssl speed: ${MB(ssl)} MB/s`, (file.bytes_per_second / ssl).toFixed(2)));
}
const sha2 = get('bm_digest_64mib/sha256/65536/real_time/threads:2');
if (sha2) p.push(line('sha256, 2 threads (wall clock, total)', `${MB(sha2.bytes_per_second)} MB/s`, '', ''));
for (const alg of ['sha512', 'md5', 'blake2b512']) {
  const b = get(`bm_digest_64mib/${alg}/65536`);
  if (b) p.push(line(`${alg}, 1 thread`, `${MB(b.bytes_per_second)} MB/s`, '', ''));
}
const r1 = get('bm_resize_800/process_time'), th = get('bm_thumbnail_buffer_800/process_time');
const r2 = get('bm_resize_800/real_time/threads:2');
const img = (b) => `${b.items_per_second.toFixed(1)} images/s (${b.cpu_time.toFixed(1)} ms CPU, ${b.real_time.toFixed(1)} ms wall)`;
if (r1) p.push(line('resize 4000x3000 JPEG → 800 px JPEG q80, 1 thread (nodus pipeline; per process CPU second)',
                    img(r1), th ? `libvips thumbnail_buffer: ${img(th)}` : '',
                    th ? (r1.items_per_second / th.items_per_second).toFixed(2) : ''));
if (r2) p.push(line('resize, 2 threads (wall clock, total)', `${r2.items_per_second.toFixed(1)} images/s`, '', ''));
p.push('', 'Commands:', '```', cmdSingle, cmdMulti, cmdOpenssl, '```', '');
p.push(`Raw JSON: ${out}/ (git-ignored). Reproduce: \`loadtest/bench_workers.sh\`.`);
console.log(p.join('\n'));
EOF
cat loadtest/results/workers.md
