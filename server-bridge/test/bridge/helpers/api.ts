// Helpers for the API tests: a small RunService on the real RunStore (validation with
// the real loadRed; runs are driven by the tests writing into the store, as the
// engine would), the app started on 127.0.0.1:0, and request/WebSocket helpers.
import Docker from 'dockerode';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WebSocket } from 'ws';
import { SecretMasker } from '../../../../src/red/mask';
import { loadRed } from '../../../../src/red/validate';
import { statesTowards, type RunResult, type RunState } from '../../../../src/red/run';
import { createApp, type BridgeApp, type HttpConfig } from '../../../src/bridge/http';
import type { HealthInfo, RunService, SubmitInput } from '../../../src/bridge/service';
import pino from 'pino';
import { RunManager } from '../../../src/bridge/run-manager';
import { DockerEngine } from '../../../src/engine/docker';
import { EngineRegistry } from '../../../src/engine/registry';
import type { Engine } from '../../../src/engine/types';
import { RunStore, isFinalState, maskForStore } from '../../../src/store';
import { removeContainersWithLabel } from '../../helpers/red';

export const TOKEN = 'test-token-0123456789abcdef';
export const ORIGIN = 'http://localhost:8888';

export const HELLO_RED = {
  redVersion: '9',
  cli: {
    cwlVersion: 'v1.0',
    class: 'CommandLineTool',
    baseCommand: 'echo',
    inputs: { some_string: { type: 'string', inputBinding: { position: 0 } } },
    outputs: { out: { type: 'stdout' } },
    stdout: 'out.txt'
  },
  inputs: { some_string: 'hello world' },
  outputs: {},
  container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
};

export const HELLO_YAML = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: echo
  inputs:
    some_string:
      type: string
      inputBinding:
        position: 0
  outputs:
    out:
      type: stdout
  stdout: out.txt
inputs:
  some_string: hello world
outputs: {}
container:
  engine: docker
  settings:
    image:
      url: redlab/busybox:1
    ram: 256
`;

/** A RunService that validates with loadRed and records runs in the real store; the tests play the engine. */
export class TestRunService implements RunService {
  /** The image routes' engine: the real Docker one. */
  readonly engines = new EngineRegistry([new DockerEngine({ docker: new Docker() })]);
  readonly submitted: SubmitInput[] = [];
  constructor(readonly store: RunStore) {}

  async submit(input: SubmitInput): Promise<{ id: string; state: RunState }> {
    const text = typeof input.red === 'string' ? input.red : JSON.stringify(input.red, null, 2);
    const loaded = loadRed(text, { source: 'request' });
    const masker = new SecretMasker();
    for (const v of Object.values(input.variables ?? {})) masker.add(v);
    this.submitted.push(input);
    const run = this.store.createRun({ red: maskForStore(masker, loaded.red), options: input.options ?? {} });
    return { id: run.id, state: run.state };
  }

  async cancel(id: string): Promise<{ id: string; state: RunState } | undefined> {
    const s = this.store.getSummary(id);
    if (!s) return undefined;
    if (!isFinalState(s.state)) this.store.setState(id, 'cancelled');
    return { id, state: this.store.getSummary(id)!.state };
  }

  async health(): Promise<HealthInfo> {
    return { status: 'ok', version: 'test', docker: { reachable: true }, gpus: [], engines: [], defaultEngine: 'docker', runs: { queued: 0, running: 0, parallel: 1 } };
  }
}

export interface Harness {
  dir: string;
  store: RunStore;
  service: TestRunService;
  bridge: BridgeApp;
  url: string;
  wsUrl: string;
  /** Everything the app logged (JSON lines). */
  logs: string[];
  close(): Promise<void>;
}

/** A temp data dir, the real store, the test service and the app listening on 127.0.0.1:0. */
export async function startHarness(over: Partial<HttpConfig> = {}, service?: (store: RunStore) => RunService): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-api-'));
  const store = RunStore.open(dir);
  const svc = service ? service(store) : new TestRunService(store);
  const logs: string[] = [];
  const bridge = createApp(svc, {
    token: TOKEN,
    allowedOrigins: [ORIGIN],
    logger: { level: 'debug', destination: { write: (l: string) => void logs.push(l) } },
    ...over
  });
  const { url } = await bridge.listen();
  return {
    dir,
    store,
    service: svc as TestRunService,
    bridge,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    logs,
    async close() {
      await bridge.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

export interface RunManagerApp {
  /** The temp folder: the data dir is its `data`; runs may read local inputs under it. */
  dir: string;
  store: RunStore;
  manager: RunManager;
  url: string;
  /** Drains the manager, closes the app and the store, removes the bridge's containers and the folder. */
  close(): Promise<void>;
}

export interface RunManagerAppOptions {
  /** Engines beside the real Docker one (e.g. a test's own), given the temp folder. */
  moreEngines?: (dir: string) => Engine[];
  /** The default engine's name (default: docker). */
  defaultEngine?: string;
  /** Store, engines and data dir of an earlier app to start on (a restart); default: a fresh temp folder. */
  dir?: string;
}

/**
 * The app on the real RunManager, DockerEngine (on `docker`) and RunStore, in a fresh temp folder named `prefix`…
 * (or `opts.dir`), listening on 127.0.0.1:0.
 */
export async function startRunManagerApp(prefix: string, docker: Docker, opts: RunManagerAppOptions = {}): Promise<RunManagerApp> {
  const dir = opts.dir ?? fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  const store = RunStore.open(path.join(dir, 'data'));
  const dockerEngine = new DockerEngine({ docker, workRoot: path.join(dir, 'data', 'work') });
  const engines = new EngineRegistry([dockerEngine, ...(opts.moreEngines?.(dir) ?? [])], opts.defaultEngine);
  const manager = new RunManager(store, engines, { parallel: 2, allowedRoots: [dir], baseDir: dir, version: 'test', stats: false }, pino({ level: 'silent' }));
  await manager.start();
  const bridge = createApp(manager, { token: TOKEN, logger: false });
  const { url } = await bridge.listen();
  return {
    dir,
    store,
    manager,
    url,
    async close() {
      await manager.drain();
      await bridge.close();
      store.close();
      await removeContainersWithLabel(docker, 'org.redlab.bridge', 'true');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

export const auth = (extra: Record<string, string> = {}): Record<string, string> => ({ authorization: `Bearer ${TOKEN}`, ...extra });

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  bytes: Buffer;
}

/** fetch with the token (unless headers.authorization is given as ''), body read in full. */
export async function call(base: string, method: string, p: string, opts: { headers?: Record<string, string>; body?: string | Buffer; noAuth?: boolean } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(opts.noAuth ? {} : auth()), ...(opts.headers ?? {}) };
  const r = await fetch(base + p, { method, headers, body: opts.body as NonNullable<Parameters<typeof fetch>[1]>['body'] });
  const bytes = Buffer.from(await r.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json, bytes };
}

export const postJson = (base: string, p: string, body: unknown, headers: Record<string, string> = {}) =>
  call(base, 'POST', p, { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

/** Moves a run through the state machine to `state` (queued → preparing → running → …). */
export function advance(store: RunStore, id: string, state: RunState): void {
  if (state === 'failed' || state === 'cancelled') {
    store.setState(id, state);
    return;
  }
  for (const s of statesTowards(store.getSummary(id)!.state, state)) store.setState(id, s);
}

/** A run created straight in the store (no validation). */
export function createStoredRun(store: RunStore): string {
  return store.createRun({ red: maskForStore(new SecretMasker(), HELLO_RED) }).id;
}

/** Finishes a run with outputs: files written under the run's folder and recorded in its result. */
export function finishWithOutputs(store: RunStore, id: string, files: Record<string, Buffer | string | null>, opts: { dirs?: string[] } = {}): RunResult {
  const dir = path.join(store.runDir(id), 'outputs');
  fs.mkdirSync(dir, { recursive: true });
  const outputs: RunResult['outputs'] = {};
  for (const [name, content] of Object.entries(files)) {
    if (content === null) {
      outputs[name] = null;
      continue;
    }
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    const buf = fs.readFileSync(file);
    outputs[name] = { path: file, class: 'File', size: buf.length, sha256: require('crypto').createHash('sha256').update(buf).digest('hex') };
  }
  for (const d of opts.dirs ?? []) {
    const p = path.join(dir, d);
    fs.mkdirSync(p, { recursive: true });
    outputs[d] = { path: p, class: 'Directory', size: 0, sha256: '0'.repeat(64) };
  }
  advance(store, id, 'collecting');
  const timings = { total: 1 };
  const result: RunResult = {
    state: 'succeeded',
    image: { url: 'redlab/busybox:1', pulled: false },
    command: ['echo'],
    exitCode: 0,
    outputs,
    batches: [{ index: 0, state: 'succeeded', command: ['echo'], exitCode: 0, inputs: {}, outputs, timings, outdir: dir }],
    timings
  };
  store.setResult(id, result);
  store.setState(id, 'succeeded');
  return result;
}

export interface WsMessage {
  seq: number;
  at: string;
  event: { type: string; [k: string]: unknown };
}

export interface WsClient {
  ws: WebSocket;
  messages: WsMessage[];
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `n` messages have arrived (or rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<void>;
}

/** Opens a WebSocket; rejects with the HTTP status when the upgrade is refused. */
export function openWs(url: string, opts: { headers?: Record<string, string>; origin?: string } = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: opts.headers, origin: opts.origin });
    const messages: WsMessage[] = [];
    let notify: (() => void) | undefined;
    ws.on('message', data => {
      messages.push(JSON.parse(String(data)));
      notify?.();
    });
    const closed = new Promise<{ code: number; reason: string }>(res => ws.on('close', (code, reason) => res({ code, reason: String(reason) })));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.on('error', err => reject(err));
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        closed,
        waitFor(n, ms = 10_000) {
          return new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error(`timed out waiting for ${n} messages (have ${messages.length})`)), ms);
            const check = () => {
              if (messages.length >= n) {
                clearTimeout(t);
                notify = undefined;
                res();
              }
            };
            notify = check;
            check();
          });
        }
      })
    );
  });
}

/** The refusal of a WebSocket upgrade: status and JSON body. */
export async function wsRefusal(url: string, opts: { headers?: Record<string, string>; origin?: string } = {}): Promise<{ status: number; body: any }> {
  try {
    const c = await openWs(url, opts);
    c.ws.close();
    throw new Error('the upgrade was accepted');
  } catch (err) {
    const e = err as { status?: number; body?: string };
    if (e.status === undefined) throw err;
    return { status: e.status, body: JSON.parse(e.body ?? 'null') };
  }
}
