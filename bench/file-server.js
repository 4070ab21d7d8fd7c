#!/usr/bin/env node
// A static file server for bench/connectors.js, in its own process so that it does not share
// an event loop (or a core's time slices) with the client being measured: GET /<name> streams
// the file <name> of the folder given as the first argument. Prints {"port": N} once it listens.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const dir = path.resolve(process.argv[2] || '.');
const server = http.createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1));
  const file = path.join(dir, name);
  if (req.method !== 'GET' || !name || name.includes('/') || name.startsWith('.')) {
    res.writeHead(400).end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
    fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
