'use strict';
// The Node 20 peer: the same endpoints as nodus, on the plain `http` module, one process.
// Usage: node node_server.js [port]   (or PORT=...; 0 = ephemeral). Listens on 127.0.0.1
// and prints `node listening on http://127.0.0.1:PORT` once bound, as nodus does.
// Later scenarios add endpoints: one handler function and one `routes` entry each.
const http = require('node:http');

const HELLO = Buffer.from('Hello, World!');

function hello(req, res) {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
  res.end(req.method === 'HEAD' ? undefined : HELLO);
}

const routes = new Map([
  ['/hello', hello],
]);

function notFound(req, res) {
  const body = JSON.stringify({ error: 'not found', detail: req.url });
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end(body);
}

function dispatch(req, res) {
  const q = req.url.indexOf('?');
  const path = q === -1 ? req.url : req.url.slice(0, q);
  (routes.get(path) || notFound)(req, res);
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
