#!/usr/bin/env node
'use strict';
// Launcher. Prefers the single-file bundle (dist/redlab.js) with V8's code cache,
// which starts several times faster than loading hundreds of modules from lib/.
const path = require('path');
const fs = require('fs');
const root = path.join(__dirname, '..');
const bundle = path.join(root, 'dist', 'redlab.js');
const modules = path.join(root, 'lib', 'server-bridge', 'src', 'cli', 'main.js');

let entry;
if (fs.existsSync(bundle) && !process.env.REDLAB_NO_BUNDLE) {
  require('v8-compile-cache');
  entry = bundle;
} else if (fs.existsSync(modules)) {
  entry = modules;
} else {
  process.stderr.write('redlab: not built yet. Run `npm run build` in the repository root first.\n');
  process.exit(2);
}
require(entry).main(process.argv.slice(2)).then(
  code => process.exit(code),
  err => {
    process.stderr.write(`redlab: ${(err && err.stack) || err}\n`);
    process.exit(70);
  }
);
