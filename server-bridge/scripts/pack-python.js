#!/usr/bin/env node
// Puts a self-contained copy of the bridge into the Python package
// (jupyterlab_redlab/bridge/), so a plain `pip install .` can start it through
// jupyter-server-proxy with nothing but Node.js on PATH: the bundles (CLI, bridge, AWS SDK), a
// launcher, and the one native module they load (better-sqlite3, built for this
// machine's Node). Run after `npm run build -w server-bridge`.
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
console.log(`pack-python: bridge copied to ${path.relative(root, target)}`);
