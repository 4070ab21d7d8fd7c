// What the benchmarks share: timing helpers, and a real bridge started from the built CLI.
'use strict';
const { spawn } = require('child_process');
const path = require('path');

const root = path.join(__dirname, '..');

/** The median of `xs` (numbers). */
const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Milliseconds, monotonic, sub-millisecond. */
const now = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * Starts `redlab bridge` on a free loopback port with `token`, its data in `dataDir`, and resolves
 * with the child and the base URL once it says it listens. `cwd`: its first allowed root.
 */
async function startBridge({ dataDir, token, args = [], cwd }) {
  const child = spawn(process.execPath, [path.join(root, 'server-bridge/bin/redlab.js'), 'bridge', '--port', '0', '--data-dir', dataDir, ...args], {
    ...(cwd ? { cwd } : {}),
    env: { ...process.env, REDLAB_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit']
  });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', d => {
      out += d;
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', code => reject(new Error(`bridge exited ${code}: ${out}`)));
  });
  return { child, url };
}

/** A request to the bridge's API with the token; a body that is not text is sent as JSON. Resolves with the Response. */
function request(url, token, method, route, body, headers = {}) {
  return fetch(`${url}/api/v1${route}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined && typeof body !== 'string' ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  });
}

module.exports = { median, now, startBridge, request, root };
