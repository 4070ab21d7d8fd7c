// The bridge's core knows engines only through the seam (engine/types.ts, engine/registry.ts):
// no file under src/bridge imports dockerode or an engine backend, except the composition
// root that constructs the backends (start.ts, engines.ts). Read from the sources, so that a
// direct Docker call cannot come back unnoticed.
import * as fs from 'fs';
import * as path from 'path';

const SRC = path.resolve(__dirname, '../../src');
const BRIDGE = path.join(SRC, 'bridge');
/** Where backends are constructed and registered: they may import them, and dockerode's types (a client handed to the Docker engine). */
const COMPOSITION_ROOTS = ['start.ts', 'engines.ts'];
/** What the core may use of src/engine: the seam, and the host's GPU inventory (nvidia-smi, not Docker). */
const ENGINE_SEAM = ['engine/types', 'engine/registry', 'engine/gpu'];

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Every module a file imports (import/export from, import(), require()), type-only ones included. */
function importsOf(text: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  return [...text.matchAll(re)].map(m => m[1]);
}

/** Whether every import of `spec` in the text is `import type` (erased: no code of it runs). */
function typeOnly(text: string, spec: string): boolean {
  const quoted = spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const all = text.match(new RegExp(`['"]${quoted}['"]`, 'g'))?.length ?? 0;
  const types = text.match(new RegExp(`^\\s*import\\s+type\\s[^;]*?from\\s*['"]${quoted}['"]`, 'gm'))?.length ?? 0;
  return all === types;
}

/** What the file's imports break of the seam rule, as `file: module` lines. */
function violations(file: string, text: string): string[] {
  const rel = path.relative(BRIDGE, file);
  const root = COMPOSITION_ROOTS.includes(rel);
  const out: string[] = [];
  for (const spec of importsOf(text)) {
    if (spec === 'dockerode' || spec.startsWith('dockerode/') || spec === 'docker-modem') {
      if (!(root && typeOnly(text, spec))) out.push(`${rel}: ${spec}`);
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const target = path.relative(SRC, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
    if (target.startsWith('engine/') || target === 'engine') {
      if (!root && !ENGINE_SEAM.includes(target.replace(/\.ts$/, ''))) out.push(`${rel}: ${spec}`);
    }
  }
  // The image helpers that take a dockerode client: the routes use an engine's `images`.
  if (!root && /import\s*(?:type\s*)?\{[^}]*\b(?:buildImage|listImages)\b[^}]*\}\s*from/.test(text)) out.push(`${rel}: buildImage/listImages (take a Docker client)`);
  return out;
}

test('importsOf finds every form of import, so the rule below cannot pass by missing one', () => {
  const text = [
    "import type Docker from 'dockerode';",
    "import { DockerEngine } from '../engine/docker';",
    "export { x } from './y';",
    "const d = require('dockerode');",
    "const e = await import('../engine/container');",
    "import '../side-effect';"
  ].join('\n');
  expect(importsOf(text)).toEqual(['dockerode', '../engine/docker', './y', 'dockerode', '../engine/container', '../side-effect']);
  // And the rule flags them in a core file, but not the backends in the composition root.
  const core = path.join(BRIDGE, 'run-manager.ts');
  expect(violations(core, text)).toEqual(['run-manager.ts: dockerode', 'run-manager.ts: ../engine/docker', 'run-manager.ts: dockerode', 'run-manager.ts: ../engine/container']);
  expect(violations(path.join(BRIDGE, 'start.ts'), text)).toEqual(['start.ts: dockerode', 'start.ts: dockerode']);
  expect(violations(path.join(BRIDGE, 'engines.ts'), "import type Docker from 'dockerode';\nimport { DockerEngine } from '../engine/docker';")).toEqual([]);
  expect(violations(core, "import type Docker from 'dockerode';")).toEqual(['run-manager.ts: dockerode']);
  expect(violations(path.join(BRIDGE, 'http', 'images.ts'), "import { buildImage } from '../../images';")).toEqual(['http/images.ts: buildImage/listImages (take a Docker client)']);
});

test('no file under src/bridge imports dockerode or an engine backend (only the seam; backends in the composition root)', () => {
  const files = tsFiles(BRIDGE);
  expect(files.map(f => path.relative(BRIDGE, f))).toEqual(expect.arrayContaining(['run-manager.ts', 'service.ts', 'http/images.ts', 'start.ts']));
  expect(files.flatMap(f => violations(f, fs.readFileSync(f, 'utf8')))).toEqual([]);
});

test('RunService gives the HTTP layer engines by name, not a Docker client', () => {
  const service = fs.readFileSync(path.join(BRIDGE, 'service.ts'), 'utf8');
  expect(service).toMatch(/readonly engines: EngineRegistry;/);
  expect(service).not.toMatch(/\bdocker\b\s*[:?]/i);
});

// The RED core (src/red, pure) reaches the bridge, the CLI and the engines through its one
// entry point (src/red/index.ts), never by its inner modules.
const CORE = path.resolve(SRC, '../../src/red');

/** The imports of `file` that name a module inside the core instead of the core itself. */
function deepCoreImports(file: string, text: string): string[] {
  return importsOf(text)
    .filter(spec => spec.startsWith('.') && path.resolve(path.dirname(file), spec).startsWith(CORE + path.sep))
    .map(spec => `${path.relative(SRC, file)}: ${spec}`);
}

test('deepCoreImports sees an inner core module, and not the entry point', () => {
  const file = path.join(SRC, 'engine', 'docker.ts');
  expect(deepCoreImports(file, "import type { Red } from '../../../src/red/types';\nimport { MASK } from '../../../src/red';")).toEqual(['engine/docker.ts: ../../../src/red/types']);
});

test('server-bridge/src imports the RED core only through its entry point', () => {
  const files = tsFiles(SRC);
  expect(files.length).toBeGreaterThan(40);
  expect(files.flatMap(f => deepCoreImports(f, fs.readFileSync(f, 'utf8')))).toEqual([]);
});

test('the frontend (src/ outside the core, tests included) imports the RED core only through its entry point', () => {
  const FRONTEND = path.resolve(CORE, '..');
  const files = (function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return p === CORE ? [] : walk(p);
      return /\.tsx?$/.test(e.name) ? [p] : [];
    });
  })(FRONTEND);
  expect(files.length).toBeGreaterThan(60);
  expect(files.flatMap(f => deepCoreImports(f, fs.readFileSync(f, 'utf8')))).toEqual([]);
});
