'use strict';
// Node peer of bench/loop/loop_bench.cpp: the same counts, the same shapes.
//   node loop_node.js [--reps R]  -> one JSON line per benchmark: {name, ops_per_s, ms}
// Each measurement schedules N = 1e6 callbacks and waits until all ran; the best of R
// repetitions (after one warm-up) is reported, as Google Benchmark reports a steady state.
const N = 1_000_000;
const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 5;

function measure(name, schedule) {
  return new Promise((resolve) => {
    const times = [];
    const once = (left) => {
      const t0 = process.hrtime.bigint();
      schedule(() => {
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (left > 0) setImmediate(() => once(left - 1));
        else {
          const ms = Math.min(...times.slice(1));
          resolve({ name, ops_per_s: N / (ms / 1000), ms });
        }
      });
    };
    once(reps);
  });
}

// Each `schedule(done)` runs N callbacks of one kind, then calls done once they all ran.
const benches = [
  ['bm_next_tick', (done) => setImmediate(() => {
    let ran = 0;
    for (let i = 0; i < N; i++) process.nextTick(() => { if (++ran === N) setImmediate(done); });
  })],
  ['bm_microtask', (done) => setImmediate(() => {
    let ran = 0;
    for (let i = 0; i < N; i++) queueMicrotask(() => { if (++ran === N) setImmediate(done); });
  })],
  ['bm_immediate', (done) => {
    let ran = 0;
    for (let i = 0; i < N; i++) setImmediate(() => { if (++ran === N) setImmediate(done); });
  }],
  ['bm_timer_insert_fire', (done) => {
    let ran = 0;
    for (let i = 0; i < N; i++) setTimeout(() => { if (++ran === N) setImmediate(done); }, 1);
  }],
  ['bm_timer_insert_fire_mixed', (done) => {
    let ran = 0;
    for (let i = 0; i < N; i++) setTimeout(() => { if (++ran === N) setImmediate(done); }, 1 + (i % 100));
  }],
];

(async () => {
  for (const [name, schedule] of benches) console.log(JSON.stringify(await measure(name, schedule)));
})();
