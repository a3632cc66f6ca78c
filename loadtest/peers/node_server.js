'use strict';
// The Node 20 peer: the same endpoints as nodus, on the plain `http` module, one process.
// Usage: node node_server.js [port]   (or PORT=...; 0 = ephemeral). Listens on 127.0.0.1
// and prints `node listening on http://127.0.0.1:PORT` once bound, as nodus does.
// Later scenarios add endpoints: one handler function and one `routes` entry each.
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const HELLO = Buffer.from('Hello, World!');
// As nodus: files under ROOT (default: the repo's public/), image inputs up to 32 MiB,
// busy work capped at 10 s.
const ROOT = path.resolve(process.env.ROOT ?? path.join(__dirname, '..', '..', 'public'));
const MAX_IMAGE_BYTES = 32 * 1024 * 1024;
const MAX_BUSY_MS = 10000;
const HASH_ALGS = ['sha256', 'sha512', 'sha1', 'md5', 'blake2b512', 'sha3-256'];
// sharp (npm, pinned in package.json; `npm ci` here) is loaded on first use, so the other
// endpoints work without it.
let sharpModule;
function sharp() {
  sharpModule ??= require('sharp');
  return sharpModule;
}

function hello(req, res) {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
  res.end(req.method === 'HEAD' ? undefined : HELLO);
}

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function fail(res, status, error, detail) {
  sendJson(res, status, { error, detail });
}

function queryOf(req) {
  return new URL(req.url, 'http://x').searchParams;
}

function intParam(q, key, fallback, min, max) {
  if (!q.has(key)) return fallback;
  const v = q.get(key);
  return /^-?[0-9]+$/.test(v) && Number(v) >= min && Number(v) <= max ? Number(v) : undefined;
}

// A path under ROOT, or undefined: decoded once, no '..' or '.' segments, no NUL.
function fileUnderRoot(req, prefix) {
  let rel;
  try {
    rel = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(prefix.length));
  } catch {
    return undefined;
  }
  const segments = rel.split('/').filter((s) => s !== '');
  if (rel.includes('\0') || segments.some((s) => s === '.' || s === '..')) return undefined;
  return path.join(ROOT, ...segments);
}

// --- /hash: crypto.createHash, fed as the body streams in (on the main thread) ----------

function hashParams(req, res) {
  const q = queryOf(req);
  const alg = q.get('alg') ?? 'sha256';
  const encoding = q.get('encoding') ?? 'hex';
  if (!HASH_ALGS.includes(alg)) {
    fail(res, 400, 'unsupported_alg', `alg '${alg}' is not supported; use one of: ${HASH_ALGS.join(', ')}`);
    return undefined;
  }
  if (encoding !== 'hex' && encoding !== 'base64') {
    fail(res, 400, 'unsupported_encoding', `encoding '${encoding}' is not supported; use hex or base64`);
    return undefined;
  }
  return { alg, encoding };
}

function hashStream(stream, p, res) {
  const h = crypto.createHash(p.alg);
  let bytes = 0;
  stream.on('data', (chunk) => {
    bytes += chunk.length;
    h.update(chunk);
  });
  stream.on('end', () => sendJson(res, 200, { alg: p.alg, digest: h.digest(p.encoding), bytes }));
  stream.on('error', (e) => fail(res, e.code === 'ENOENT' ? 404 : 500, 'io_error', e.message));
}

function hashBody(req, res) {
  if (req.method !== 'POST') return fail(res, 405, 'method_not_allowed', req.method);
  const p = hashParams(req, res);
  if (p) hashStream(req, p, res);
}

function hashFile(req, res) {
  const p = hashParams(req, res);
  if (!p) return;
  const file = fileUnderRoot(req, '/hash/files/');
  if (!file) return fail(res, 400, 'bad_path', req.url);
  hashStream(fs.createReadStream(file), p, res);
}

// --- /image: sharp with its defaults (shrink-on-load, libuv threadpool) ----------------

function resizeParams(req, res) {
  const q = queryOf(req);
  const width = intParam(q, 'width', undefined, 1, 16383);
  const height = intParam(q, 'height', undefined, 1, 16383);
  const quality = intParam(q, 'quality', 80, 1, 100);
  const fit = q.get('fit') ?? 'cover';
  let format = q.get('format') ?? 'jpeg';
  if (format === 'jpg') format = 'jpeg';
  if ((q.has('width') && width === undefined) || (q.has('height') && height === undefined) ||
      quality === undefined || (width === undefined && height === undefined) ||
      !['cover', 'contain', 'fill', 'inside', 'outside'].includes(fit) || !['jpeg', 'png', 'webp'].includes(format)) {
    fail(res, 400, 'bad_params', 'width/height 1..16383, quality 1..100, fit, format jpeg|png|webp');
    return undefined;
  }
  return { width, height, quality, fit, format };
}

function resize(input, p, res) {
  sharp()(input)
    .resize({ width: p.width, height: p.height, fit: p.fit })
    .toFormat(p.format, { quality: p.quality })
    .toBuffer({ resolveWithObject: true })
    .then(({ data, info }) => {
      res.writeHead(200, { 'Content-Type': `image/${info.format}`, 'Content-Length': data.length,
        'X-Image-Width': info.width, 'X-Image-Height': info.height });
      res.end(data);
    })
    .catch((e) => fail(res, 422, 'bad_image', e.message));
}

function imageResize(req, res) {
  if (req.method !== 'POST') return fail(res, 405, 'method_not_allowed', req.method);
  const p = resizeParams(req, res);
  if (!p) return;
  if (Number(req.headers['content-length'] ?? 0) > MAX_IMAGE_BYTES) {
    res.setHeader('Connection', 'close');
    return fail(res, 413, 'too_large', `over ${MAX_IMAGE_BYTES} bytes`);
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= MAX_IMAGE_BYTES) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_IMAGE_BYTES) return fail(res, 413, 'too_large', `over ${MAX_IMAGE_BYTES} bytes`);
    resize(Buffer.concat(chunks, size), p, res);
  });
}

function imageFile(req, res) {
  const p = resizeParams(req, res);
  if (!p) return;
  const file = fileUnderRoot(req, '/image/files/');
  if (!file) return fail(res, 400, 'bad_path', req.url);
  fs.readFile(file, (err, data) => (err ? fail(res, 404, 'not_found', req.url) : resize(data, p, res)));
}

// --- /demo: the same busy loop on the main thread (block) or a worker thread (offload) --

function spin(ms) {
  const until = performance.now() + ms;
  let spins = 0;
  while (performance.now() < until) spins++;
  return spins;
}

function busyMs(req, res) {
  const ms = intParam(queryOf(req), 'ms', undefined, 0, MAX_BUSY_MS);
  if (ms === undefined) fail(res, 400, 'bad_request', `ms must be an integer from 0 to ${MAX_BUSY_MS}`);
  return ms;
}

function demoBlock(req, res) {
  const ms = busyMs(req, res);
  if (ms !== undefined) sendJson(res, 200, { blocked_ms: ms, spins: spin(ms) });
}

// A fixed pool of worker threads (one per core, as nodus's --workers default) with a FIFO
// queue, as Node users build with worker_threads (or piscina).
const offloadPool = { workers: [], idle: [], queue: [] };
function offloadWorker() {
  const w = new Worker(`const { parentPort } = require('node:worker_threads');
    ${spin.toString()}
    parentPort.on('message', (ms) => parentPort.postMessage(spin(ms)));`, { eval: true });
  w.unref();
  w.on('message', (spins) => {
    w.job(spins);
    w.job = undefined;
    const next = offloadPool.queue.shift();
    if (next) runOffload(w, next);
    else offloadPool.idle.push(w);
  });
  return w;
}
function runOffload(w, job) {
  w.job = job.done;
  w.postMessage(job.ms);
}
function demoOffload(req, res) {
  const ms = busyMs(req, res);
  if (ms === undefined) return;
  if (offloadPool.workers.length === 0) {
    const n = os.availableParallelism?.() ?? os.cpus().length;
    for (let i = 0; i < n; i++) offloadPool.idle.push(offloadPool.workers[i] = offloadWorker());
  }
  const job = { ms, done: (spins) => sendJson(res, 200, { offloaded_ms: ms, spins }) };
  const w = offloadPool.idle.pop();
  if (w) runOffload(w, job);
  else offloadPool.queue.push(job);
}

// --- /objects: JSON documents in a Map, as a Node service keeps them (issue 7) ----------

const MAX_BODY = 1024 * 1024;
const documents = new Map();
let nextObjectId = 1;

function readBody(req, res, done) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return fail(res, 413, 'payload_too_large', `body over ${MAX_BODY} bytes`);
    let value;
    try {
      value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      return fail(res, 400, 'invalid_json', e.message);
    }
    done(value);
  });
}

function objectsRoot(req, res) {
  if (req.method === 'POST') {
    return readBody(req, res, (value) => {
      const id = nextObjectId++;
      documents.set(id, value);
      sendJson(res, 201, { id }, { Location: `/objects/${id}` });
    });
  }
  if (req.method !== 'GET') return fail(res, 405, 'method_not_allowed', req.method);
  const q = queryOf(req);
  const limit = intParam(q, 'limit', 100, 1, 1000);
  const after = intParam(q, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
  if (limit === undefined || after === undefined) return fail(res, 400, 'bad_request', 'limit/after');
  const ids = [...documents.keys()].filter((id) => id > after).slice(0, limit + 1);
  const more = ids.length > limit;
  if (more) ids.length = limit;
  sendJson(res, 200, { ids, next: more ? ids[ids.length - 1] : null });
}

function objectOne(req, res) {
  const path = req.url.split('?')[0];
  const id = /^[0-9]+$/.test(path.slice('/objects/'.length)) ? Number(path.slice('/objects/'.length)) : NaN;
  if (Number.isNaN(id)) return fail(res, 400, 'bad_id', path);
  if (!documents.has(id)) return fail(res, 404, 'not_found', `no object ${id}`);
  switch (req.method) {
    case 'GET': {
      const body = JSON.stringify(documents.get(id));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      return res.end(body);
    }
    case 'PUT':
      return readBody(req, res, (value) => {
        documents.set(id, value);
        sendJson(res, 200, { id });
      });
    case 'DELETE':
      documents.delete(id);
      res.writeHead(204);
      return res.end();
    default:
      return fail(res, 405, 'method_not_allowed', req.method);
  }
}

const routes = new Map([
  ['/hello', hello],
  ['/objects', objectsRoot],
  ['/hash', hashBody],
  ['/image/resize', imageResize],
  ['/demo/block', demoBlock],
  ['/demo/offload', demoOffload],
]);
// --- /files/: fs.createReadStream().pipe(res), the idiomatic Node file server ----------

function serveFile(req, res) {
  const file = fileUnderRoot(req, '/files/');
  if (!file) return notFound(req, res);
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return notFound(req, res);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
    fs.createReadStream(file).pipe(res);
  });
}

const prefixRoutes = [
  ['/objects/', objectOne],
  ['/files/', serveFile],
  ['/hash/files/', hashFile],
  ['/image/files/', imageFile],
];

function notFound(req, res) {
  const body = JSON.stringify({ error: 'not found', detail: req.url });
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end(body);
}

function dispatch(req, res) {
  const q = req.url.indexOf('?');
  const path = q === -1 ? req.url : req.url.slice(0, q);
  const prefixed = prefixRoutes.find(([prefix]) => path.startsWith(prefix));
  (routes.get(path) || (prefixed && prefixed[1]) || notFound)(req, res);
}

function main() {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
  const server = http.createServer(dispatch);
  // Comparable to nodus and nginx: 5 s idle keep-alive, no cap on requests per connection.
  server.keepAliveTimeout = 5000;
  server.maxRequestsPerSocket = 0;
  server.listen(port, '127.0.0.1', () => {
    console.log(`node listening on http://127.0.0.1:${server.address().port}`);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => server.close(() => process.exit(0)));
  }
}

main();
