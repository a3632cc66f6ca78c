'use strict';
// Runs loop-ordering scenarios in Node: the oracle for nodus's runtime/loop/scenario.cpp.
// Format: {"ops": [OP...]}, OP = {"op": KIND, "label", "ms", "times", "then": [OP...]}.
//   node scenario_runner.js FILE|-                 one scenario -> {"order": [...]}
//   node scenario_runner.js --jsonl [--repeat N] FILE|-
//                                                  one scenario per line; with --repeat the
//                                                  whole list runs N times and each line is
//                                                  {"runs": [order, order, ...]}
// `io` is a real asynchronous I/O: a byte written on a loopback TCP connection whose 'data'
// callback runs in the poll phase of a later iteration. Each pending io uses its own
// connection, so two ios never share one read callback. Every scenario starts from inside
// such an I/O callback, so setImmediate-vs-setTimeout(0) is deterministic.

const net = require('net');
const fs = require('fs');

class IoPool {
  constructor() {
    this.free = [];
    this.all = [];
    this.server = null;
  }

  listen() {
    return new Promise((resolve) => {
      this.server = net.createServer();
      this.server.listen(0, '127.0.0.1', resolve);
    });
  }

  // Connections are made up front: an io op must never wait for a connect.
  async ensure(n) {
    while (this.all.length < n) await this.connect();  // the warm-up read frees the pair
  }

  connect() {
    return new Promise((resolve) => {
      const pair = { client: null, peer: null, pending: null };
      this.server.once('connection', (peer) => {
        peer.setNoDelay(true);
        pair.peer = peer;
        peer.on('data', (chunk) => {
          for (let i = 0; i < chunk.length; i++) {
            const cb = pair.pending;
            pair.pending = null;
            this.free.push(pair);
            if (cb) cb();
          }
        });
        // Warm the stream up so later reads emit 'data' synchronously.
        pair.pending = () => resolve(pair);
        pair.client.write('w');
      });
      pair.client = net.connect(this.server.address().port, '127.0.0.1');
      pair.client.setNoDelay(true);
      this.all.push(pair);
    });
  }

  // A random free connection: which of two sockets made readable together epoll reports
  // first is the kernel's business, not the event loop's; varying the pick lets the
  // differential driver's repeated runs expose (and discard) scenarios that depend on it.
  start(cb) {
    const i = Math.floor(Math.random() * this.free.length);
    const pair = this.free[i];
    this.free[i] = this.free[this.free.length - 1];
    this.free.pop();
    if (!pair) throw new Error('io pool exhausted');
    pair.pending = cb;
    pair.client.write('x');
  }

  close() {
    for (const p of this.all) { p.client.destroy(); if (p.peer) p.peer.destroy(); }
    this.server.close();
  }
}

function countIo(ops) {
  let n = 0;
  for (const op of ops || []) {
    const inner = countIo(op.then);
    const reps = op.op === 'interval' ? (op.times || 1) : 1;
    n += (op.op === 'io' ? 1 : 0) + reps * inner;
  }
  return n;
}

// Runs one scenario; calls done({order}) once every deferred op ran.
function runScenario(pool, scenario, done) {
  const order = [];
  let outstanding = 0;
  const finishOne = () => { if (--outstanding === 0) done({ order }); };
  const runOps = (ops) => { for (const op of ops || []) runOp(op); };
  const fire = (op) => () => { order.push(op.label); runOps(op.then); finishOne(); };
  function runOp(op) {
    switch (op.op) {
      case 'log': order.push(op.label); runOps(op.then); return;
      case 'nextTick': outstanding++; process.nextTick(fire(op)); return;
      case 'microtask': outstanding++; queueMicrotask(fire(op)); return;
      case 'promise': outstanding++; Promise.resolve().then(fire(op)); return;
      case 'immediate': outstanding++; setImmediate(fire(op)); return;
      case 'timeout': outstanding++; setTimeout(fire(op), op.ms); return;
      case 'interval': {
        outstanding++;
        let k = 0;
        const h = setInterval(() => {
          k++;
          order.push(`${op.label}#${k}`);
          runOps(op.then);
          if (k === (op.times || 1)) { clearInterval(h); finishOne(); }
        }, op.ms);
        return;
      }
      case 'io': outstanding++; pool.start(fire(op)); return;
      default: throw new Error(`unknown op ${op.op}`);
    }
  }
  outstanding++;
  pool.start(() => { runOps(scenario.ops); finishOne(); });
}

async function runAll(scenarios, repeat) {
  const pool = new IoPool();
  await pool.listen();
  await pool.ensure(Math.max(1, ...scenarios.map((s) => countIo(s.ops) + 1)));
  const runs = scenarios.map(() => []);
  for (let r = 0; r < repeat; r++) {
    for (let i = 0; i < scenarios.length; i++) {
      const res = await new Promise((resolve) => runScenario(pool, scenarios[i], resolve));
      runs[i].push(res.order);
    }
  }
  pool.close();
  return runs;
}

module.exports = { runAll };

if (require.main === module) {
  const args = process.argv.slice(2);
  let jsonl = false, repeat = 1, file = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--jsonl') jsonl = true;
    else if (args[i] === '--repeat') repeat = Number(args[++i]);
    else file = args[i];
  }
  if (!file) { console.error('usage: scenario_runner.js [--jsonl [--repeat N]] FILE|-'); process.exit(2); }
  const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  const scenarios = jsonl ? text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : [JSON.parse(text)];
  runAll(scenarios, repeat).then((runs) => {
    if (!jsonl) { process.stdout.write(JSON.stringify({ order: runs[0][0] }) + '\n'); return; }
    process.stdout.write(runs.map((r) => JSON.stringify(repeat === 1 ? { order: r[0] } : { runs: r })).join('\n') + '\n');
  });
}
