#!/usr/bin/env node
// Bundles the `redlab` CLI and bridge into one file (dist/redlab.js) so that a
// command starts fast: one file to read and compile instead of hundreds of
// modules. Native modules stay external. Modules that dockerode loads eagerly
// but only needs for rare paths (gRPC for BuildKit sessions, ssh2 for ssh://
// DOCKER_HOST) are loaded on first use instead of at start-up.
'use strict';
const path = require('path');
const fs = require('fs');
const esbuild = require('esbuild');

// Packages loaded from node_modules on first property access (ssh2: only the docker-ssh
// engine needs it; kept external:
// proto-loader reads .proto files next to dockerode at run time).
const LAZY = /^(@grpc\/grpc-js|@grpc\/proto-loader|ssh2)$/;
// Modules that export one function, required eagerly but called rarely: bundled,
// but their code (and what they require) runs on the first call.
const LAZY_FUNCTIONS = [
  { importer: /docker-modem[\\/]lib[\\/]modem\.js$/, path: './ssh' },
  { importer: /dockerode[\\/]lib[\\/]docker\.js$/, path: './session' }
];

const lazyModules = {
  name: 'lazy-modules',
  setup(build) {
    build.onResolve({ filter: LAZY }, args =>
      args.namespace === 'lazy' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy' }
    );
    build.onResolve({ filter: /^\.\/(ssh|session)$/ }, args => {
      if (args.namespace === 'lazy-fn') return undefined;
      const hit = LAZY_FUNCTIONS.find(l => l.path === args.path && l.importer.test(args.importer));
      return hit ? { path: path.resolve(path.dirname(args.importer), args.path + '.js'), namespace: 'lazy-fn' } : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'lazy-fn' }, args => ({
      contents: `let real;
module.exports = function () {
  real = real || require(${JSON.stringify(args.path)});
  return real.apply(this, arguments);
};`,
      loader: 'js',
      resolveDir: path.dirname(args.path)
    }));
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, args => ({
      contents: `let real;
const load = () => real || (real = require(${JSON.stringify(args.path)}));
module.exports = new Proxy({}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, key) => Object.getOwnPropertyDescriptor(load(), key)
});`,
      loader: 'js'
    }));
  }
};

// docker-modem formats every request with util.inspect (depth: null) for a debug log
// that is off unless DEBUG=modem: a few ms per request on the hot path. Format it only
// when that log is on.
const quietModem = {
  name: 'quiet-modem',
  setup(build) {
    build.onLoad({ filter: /docker-modem[\\/]lib[\\/]modem\.js$/ }, async args => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const patched = source.replace("debug('Sending: %s', util.inspect(", "debug.enabled && debug('Sending: %s', util.inspect(");
      if (patched === source) console.warn('bundle: docker-modem changed; its debug formatting stays eager');
      return { contents: patched, loader: 'js' };
    });
  }
};

// The bridge (fastify, SQLite) is its own bundle, loaded by `redlab bridge` only.
const bridgeApart = {
  name: 'bridge-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/bridge\/start$/ }, args => (args.importer.endsWith(path.join('cli', 'main.ts')) ? { path: './bridge.js', external: true } : undefined));
  }
};

// The AWS SDK (connectors/s3-sdk.ts) is its own bundle, dist/s3-sdk.js, required by the S3
// connector on its first transfer only.
const s3SdkApart = {
  name: 's3-sdk-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/s3-sdk$/ }, args => (args.importer.endsWith(path.join('connectors', 's3.ts')) ? { path: './s3-sdk.js', external: true } : undefined));
  }
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  // Native modules, and big packages only reached from code that runs lazily (ssh://
  // DOCKER_HOST, BuildKit builds): loaded from node_modules if ever needed.
  external: ['*.node', 'cpu-features', 'better-sqlite3', 'ssh2', 'protobufjs'],
  logLevel: 'warning'
};

Promise.all([
  esbuild.build({
    ...common,
    entryPoints: [path.join(__dirname, '..', 'src', 'cli', 'main.ts')],
    outfile: path.join(__dirname, '..', 'dist', 'redlab.js'),
    plugins: [lazyModules, quietModem, bridgeApart, s3SdkApart]
  }),
  esbuild.build({
    ...common,
    entryPoints: [path.join(__dirname, '..', 'src', 'bridge', 'start.ts')],
    outfile: path.join(__dirname, '..', 'dist', 'bridge.js'),
    plugins: [lazyModules, quietModem, s3SdkApart]
  }),
  esbuild.build({
    ...common,
    entryPoints: [path.join(__dirname, '..', 'src', 'connectors', 's3-sdk.ts')],
    outfile: path.join(__dirname, '..', 'dist', 's3-sdk.js')
  })
]).catch(() => process.exit(1));
