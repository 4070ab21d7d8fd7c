#!/usr/bin/env node
'use strict';
// Thin launcher: the compiled CLI lives in lib/ (built by `npm run build`).
const path = require('path');
const fs = require('fs');
const entry = path.join(__dirname, '..', 'lib', 'server-bridge', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('redlab: not built yet. Run `npm run build` in the repository root first.\n');
  process.exit(2);
}
require(entry).main(process.argv.slice(2)).then(
  code => process.exit(code),
  err => { process.stderr.write(`redlab: ${err && err.stack || err}\n`); process.exit(70); }
);
