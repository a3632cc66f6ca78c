#!/usr/bin/env node
// The peer of loadtest/bench_snapshot.sh in Node: a heap of N small objects (arrays of 100,000
// distinct short strings, the shape nodus builds from POST /objects), then
// v8.writeHeapSnapshot() timed, with the peak RSS it adds.
//   node --max-old-space-size=8192 loadtest/bench/snapshot_node.js N FILE   -> one JSON line
'use strict';
const fs = require('node:fs');
const v8 = require('node:v8');

const n = Number(process.argv[2] || 1000000);
const file = process.argv[3] || '/tmp/nodus-bench-node.heapsnapshot';
const per = 100000;
const keep = [];
for (let made = 0; made < n; made += per) {
  const a = new Array(Math.min(per, n - made));
  for (let i = 0; i < a.length; i++) a[i] = 's' + (made + i);
  keep.push({ s: a });
}
globalThis.keep = keep;
if (global.gc) global.gc();
const heap = v8.getHeapStatistics();
const rssBefore = process.memoryUsage().rss;
const peakBefore = process.resourceUsage().maxRSS * 1024;
const start = process.hrtime.bigint();
let error = null;
try {
  v8.writeHeapSnapshot(file);
} catch (e) {
  error = String(e);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const peakAfter = process.resourceUsage().maxRSS * 1024;
let bytes = 0;
let nodes = 0;
try {
  bytes = fs.statSync(file).size;
  const head = Buffer.alloc(4096);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const m = /"node_count":(\d+)/.exec(head.toString());
  nodes = m ? Number(m[1]) : 0;
  fs.unlinkSync(file);
} catch (e) {
  error = error || String(e);
}
console.log(JSON.stringify({
  objects: n,
  used_heap_size: heap.used_heap_size,
  rss_before: rssBefore,
  // the peak can only be read since the process started: it is the snapshot's if above rss_before
  peak_extra_rss: Math.max(0, peakAfter - Math.max(rssBefore, peakBefore)),
  peak_rss: peakAfter,
  seconds,
  snapshot_bytes: bytes,
  node_count: nodes,
  error
}));
