#!/usr/bin/env node
// Puts a self-contained copy of the bridge into the Python package
// (jupyterlab_redlab/bridge/), so a plain `pip install .` can start it through
// jupyter-server-proxy with nothing but Node.js on PATH: the bundles (CLI, bridge, AWS SDK), a
// launcher, the one native module they load (better-sqlite3, built for this machine's
// Node) and the packages the bundles load from node_modules on first use (ssh2). Run
// after `npm run build -w server-bridge`.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..', '..');
const target = path.join(root, 'jupyterlab_redlab', 'bridge');
const dist = path.join(__dirname, '..', 'dist');

fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(path.join(target, 'node_modules'), { recursive: true });
for (const f of ['redlab.js', 'bridge.js', 's3-sdk.js']) fs.copyFileSync(path.join(dist, f), path.join(target, f));
fs.writeFileSync(
  path.join(target, 'launch.js'),
  "'use strict';\n// Started by jupyterlab_redlab.bridge_proxy: `node launch.js bridge ...`.\nrequire('./redlab.js').main(process.argv.slice(2)).then(code => process.exit(code), err => { process.stderr.write(`redlab: ${(err && err.stack) || err}\\n`); process.exit(70); });\n"
);

function copyPackage(name, parts) {
  const from = path.dirname(require.resolve(`${name}/package.json`, { paths: [path.join(root, 'server-bridge')] }));
  const to = path.join(target, 'node_modules', name);
  for (const p of parts) {
    const src = path.join(from, p);
    if (!fs.existsSync(src)) throw new Error(`pack-python: ${src} is missing (is ${name} built?)`);
    fs.cpSync(src, path.join(to, p), { recursive: true });
  }
}
copyPackage('better-sqlite3', ['package.json', 'lib', 'build/Release/better_sqlite3.node']);
copyPackage('bindings', ['package.json', 'bindings.js']);
copyPackage('file-uri-to-path', ['package.json', 'index.js']);

/** `name` whole (but its examples and tests) and, the same way, every package it depends on (not the optional ones: it loads those in try/catch). */
function copyPackageTree(name, seen = new Set()) {
  if (seen.has(name)) return;
  seen.add(name);
  const from = path.dirname(require.resolve(`${name}/package.json`, { paths: [path.join(root, 'server-bridge')] }));
  const skip = new Set(['examples', 'test', 'tests', 'bench', 'benchmark', '.github']);
  fs.cpSync(from, path.join(target, 'node_modules', name), { recursive: true, filter: src => !skip.has(path.basename(src)) || path.dirname(src) !== from });
  const pkg = JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) copyPackageTree(dep, seen);
}
// ssh2 stays outside the bundles (loaded on an SSH connector's or the docker-ssh engine's first use).
copyPackageTree('ssh2');
console.log(`pack-python: bridge copied to ${path.relative(root, target)}`);
