'use strict';
// Differential test of nodus's event loop against Node (the oracle).
//   node differential.js LOOP_SCENARIO_CLI [--count N] [--seed S] [--runs R] [--keep-dir DIR]
// 1. Named cases (tests/js/scenarios/*.json, each with "expect"): Node and nodus must both
//    produce exactly the expected order.
// 2. A seeded generator makes N random scenarios (nesting, every op kind, several timers
//    with equal and different ms). Node runs each R times after one warm-up pass; scenarios
//    whose order differs between Node runs are timing-dependent and discarded. nodus runs
//    each kept scenario R_NODUS (3) times; one whose nodus order varies is timing-dependent
//    on nodus's side (reported, not compared). nodus's order must equal Node's for every
//    scenario stable on both sides.
// Exit 0 only if everything matched, at least half the random scenarios were kept and at
// most 20% of the kept ones were unstable in nodus (sanitizer builds are slower, so more
// scenarios straddle a millisecond boundary there).

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const opt = { count: 500, seed: 20240501, runs: 5, cli: null, keepDir: null };
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--count') opt.count = Number(args[++i]);
  else if (args[i] === '--seed') opt.seed = Number(args[++i]);
  else if (args[i] === '--runs') opt.runs = Number(args[++i]);
  else if (args[i] === '--keep-dir') opt.keepDir = args[++i];
  else opt.cli = args[i];
}
if (!opt.cli) {
  console.error('usage: differential.js LOOP_SCENARIO_CLI [--count N] [--seed S] [--runs R]');
  process.exit(2);
}

// --- seeded generator --------------------------------------------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(rand, index) {
  const pick = (items) => items[Math.floor(rand() * items.length)];
  const kinds = ['log', 'nextTick', 'nextTick', 'microtask', 'microtask', 'promise', 'promise',
    'immediate', 'immediate', 'immediate', 'timeout', 'timeout', 'timeout', 'interval', 'io', 'io'];
  const msChoices = [0, 1, 1, 5, 5, 10, 10, 20];  // repeats make equal-ms timers common
  let n = 0;
  const maxOps = 4 + Math.floor(rand() * 20);
  function op(depth) {
    n++;
    const o = { op: pick(kinds), label: `s${index}_${n}` };
    if (o.op === 'timeout' || o.op === 'interval') o.ms = pick(msChoices);
    if (o.op === 'interval') o.times = 1 + Math.floor(rand() * 3);
    if (depth < 3 && rand() < 0.5 - depth * 0.1) {
      const kids = 1 + Math.floor(rand() * 3);
      o.then = [];
      for (let k = 0; k < kids && n < maxOps; k++) o.then.push(op(depth + 1));
    }
    return o;
  }
  const ops = [];
  const top = 1 + Math.floor(rand() * 6);
  for (let k = 0; k < top && n < maxOps; k++) ops.push(op(0));
  return { ops };
}

// --- running -----------------------------------------------------------------------------
const runner = path.join(__dirname, 'scenario_runner.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodus-loop-diff-'));

function runNode(scenarios, repeat) {
  const file = path.join(tmp, `node-${repeat}.jsonl`);
  fs.writeFileSync(file, scenarios.map((s) => JSON.stringify(s)).join('\n') + '\n');
  const out = execFileSync(process.execPath, [runner, '--jsonl', '--repeat', String(repeat), file],
    { maxBuffer: 1 << 28, encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l).runs);
}

function runNodus(scenarios, repeat) {
  const file = path.join(tmp, 'nodus.jsonl');
  fs.writeFileSync(file, scenarios.map((s) => JSON.stringify(s)).join('\n') + '\n');
  const out = execFileSync(opt.cli, ['--jsonl', '--repeat', String(repeat), file],
    { maxBuffer: 1 << 28, encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l).runs);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
let failures = 0;
function report(title, scenario, expected, got) {
  failures++;
  console.log(`FAIL ${title}`);
  console.log(`  scenario: ${JSON.stringify(scenario)}`);
  console.log(`  expected: ${JSON.stringify(expected)}`);
  console.log(`  got:      ${JSON.stringify(got)}`);
}

// 1. named cases
const dir = path.join(__dirname, 'scenarios');
const named = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => ({ name: f, doc: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
const namedNode = runNode(named.map((n) => ({ ops: n.doc.ops })), opt.runs + 1);
const namedNodus = runNodus(named.map((n) => ({ ops: n.doc.ops })), 3);
named.forEach((n, i) => {
  namedNode[i].slice(1).forEach((order, r) => {
    if (!same(order, n.doc.expect)) report(`${n.name}: Node run ${r + 1} differs from "expect"`, n.doc.ops, n.doc.expect, order);
  });
  namedNodus[i].forEach((order, r) => {
    if (!same(order, n.doc.expect)) report(`${n.name}: nodus run ${r + 1} differs from "expect"`, n.doc.ops, n.doc.expect, order);
  });
});
console.log(`named cases: ${named.length} (${named.map((n) => n.name.replace(/\.json$/, '')).join(', ')})`);

// 2. random scenarios
const rand = mulberry32(opt.seed);
const scenarios = Array.from({ length: opt.count }, (_, i) => generate(rand, i));
const t0 = Date.now();
const nodeRuns = runNode(scenarios, opt.runs + 1);  // pass 0 warms the JIT up and is ignored
const kept = [];
scenarios.forEach((s, i) => {
  const runs = nodeRuns[i].slice(1);
  if (runs.every((r) => same(r, runs[0]))) kept.push({ index: i, scenario: s, order: runs[0] });
});
const t1 = Date.now();
const nodus = runNodus(kept.map((k) => k.scenario), 3);
const t2 = Date.now();
let matched = 0, nodusUnstable = 0;
kept.forEach((k, i) => {
  const runs = nodus[i];
  if (!runs.every((r) => same(r, runs[0]))) {
    nodusUnstable++;
    console.log(`note: random scenario #${k.index} varies across nodus runs (timing-dependent): ${JSON.stringify(runs)}`);
    return;
  }
  if (same(runs[0], k.order)) matched++;
  else report(`random scenario #${k.index} (seed ${opt.seed})`, k.scenario, k.order, runs[0]);
});
const compared = kept.length - nodusUnstable;
console.log(`random: generated ${scenarios.length}, kept ${kept.length} (stable over ${opt.runs} Node runs), ` +
  `${nodusUnstable} unstable in nodus, matched ${matched}/${compared}; ` +
  `node ${((t1 - t0) / 1000).toFixed(1)} s, nodus ${((t2 - t1) / 1000).toFixed(1)} s`);
if (nodusUnstable * 5 > kept.length) {
  console.log(`FAIL ${nodusUnstable} of ${kept.length} scenarios vary across nodus runs`);
  failures++;
}
if (opt.keepDir) {
  fs.mkdirSync(opt.keepDir, { recursive: true });
  fs.writeFileSync(path.join(opt.keepDir, 'kept.jsonl'), kept.map((k) => JSON.stringify(k)).join('\n') + '\n');
}
fs.rmSync(tmp, { recursive: true, force: true });
if (kept.length * 2 < scenarios.length) {
  console.log(`FAIL too few stable scenarios (${kept.length}/${scenarios.length}): the comparison would be weak`);
  failures++;
}
process.exit(failures === 0 ? 0 : 1);
