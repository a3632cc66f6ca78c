#!/usr/bin/env node
// The heap allocation workload in Node, measured with --trace-gc (the peer of
// bench/heap/heap_bench.cpp BM_allocation_workload).
//   node loadtest/bench/heap_node.js [iterations]        -> one JSON line with the figures
// The driver re-runs itself as a child with --trace-gc and parses the child's GC lines:
//   [pid:isolate]  T ms: Scavenge U0 (C0) -> U1 (C1) MB, P / E ms  (...) reason;
// Allocated bytes are estimated the same way as for nodus: sum over GCs of
// (used before this GC - used after the previous one).
'use strict';
const { spawnSync } = require('node:child_process');

function workload(n) {
  const keep = new Array(10000).fill(null);
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const o = { a: i, b: [i, i + 1], s: 'x' };
    if (i % 1000 === 0) keep[(i / 1000) % 10000] = o;
    sink += o.b.length;
  }
  return sink + keep.length;
}

function percentile(values, p) {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.round(p * (v.length - 1)))];
}

const line = /ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^ ]* ([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, ([\d.]+) \/ ([\d.]+) ms/;

function parse(text) {
  const minor = [];
  let gcMs = 0, allocatedMb = 0, lastAfter = 0, majors = 0;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const before = Number(m[2]), after = Number(m[4]), pause = Number(m[6]);
    if (m[1] === 'Scavenge') minor.push(pause); else majors++;
    gcMs += pause;
    allocatedMb += Math.max(0, before - lastAfter);
    lastAfter = after;
  }
  return { minor, majors, gcMs, allocatedBytes: allocatedMb * 1024 * 1024 };
}

if (process.argv[2] === '--child') {
  workload(Number(process.argv[3]));
} else {
  const n = Number(process.argv[2] || 5000000);
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, ['--trace-gc', __filename, '--child', String(n)],
                          { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (child.status !== 0) {
    process.stderr.write(child.stderr);
    process.exit(1);
  }
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const r = parse(child.stdout);
  console.log(JSON.stringify({
    node: process.version,
    iterations: n,
    minor_gcs: r.minor.length,
    major_gcs: r.majors,
    minor_p50_ms: percentile(r.minor, 0.5),
    minor_p99_ms: percentile(r.minor, 0.99),
    gc_ms_per_GB: r.gcMs / (r.allocatedBytes / 1e9),
    allocated_MB: r.allocatedBytes / 1e6,
    wall_ms: wallMs,
  }));
}
