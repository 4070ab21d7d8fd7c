// Secrets through a real bridge: a {{variable}} fills the basic-auth password of an
// HTTP input served on 127.0.0.1; the container prints the password (from the
// downloaded file and from an argument). The run must succeed, and the password must
// reach no file under the data dir (SQLite, -wal, -shm, logs, work folders), no API
// answer and no log line: everywhere it shows as ********, except in the run's
// declared output files, which keep the container's bytes as they are.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startTestServer, type TestServer } from '../helpers/http-server';
import { openWs } from './helpers/api';
import { postRun, startBridgeProcess, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

const token = 'secrets-test-token-0123456789abcdef';
const PW = 'Pw-7hQ2xK9z-s3cr3t-Zq';
const MASK = '********';
/** The password as it travels in the Authorization header (base64 of alice:PW), and alone in base64. */
const ENCODED = [Buffer.from(`alice:${PW}`).toString('base64'), Buffer.from(PW).toString('base64')];

interface RunRecord {
  id: string;
  state: string;
  error?: string;
  dir: string;
  red: { inputs: { script: string; token: string; payload: { connector: { access: { url: string; auth: Record<string, string> } } } } };
  result?: { command?: string[]; outputs?: Record<string, { path: string; size: number } | null> };
  batches: { state: string; command?: string[] }[];
}

let dataDir: string;
let server: TestServer;
let bridge: BridgeProcess | undefined;

function secretRed(url: string): Record<string, unknown> {
  return {
    redVersion: '9',
    cli: {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: ['sh', '-c'],
      inputs: {
        script: { type: 'string', inputBinding: { position: 0 } },
        payload: { type: 'File', inputBinding: { position: 1 } },
        token: { type: 'string', inputBinding: { position: 2 } }
      },
      outputs: { copy: { type: 'File', outputBinding: { glob: 'copy.txt' } } }
    },
    inputs: {
      // $0: the downloaded file, $1: the argument.
      script: 'echo "arg: $1"; echo "stderr arg: $1" >&2; cat "$0"; cp "$0" copy.txt',
      payload: {
        class: 'File',
        connector: {
          command: 'red-connector-http',
          access: { url: `${url}/secret.txt`, auth: { username: 'alice', password: '{{pw}}', method: 'basic' } }
        }
      },
      // The same password pasted as a plain argument: masked because it is a variable's value.
      token: PW
    },
    outputs: {},
    container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
  };
}

/** Every regular file under `dir`, recursively. */
function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Files under the data dir whose bytes hold the password (plain or base64), except `exclude`. */
function filesWithSecret(exclude: string[]): string[] {
  return allFiles(dataDir)
    .filter(f => !exclude.includes(f))
    .filter(f => {
      const bytes = fs.readFileSync(f);
      return [PW, ...ENCODED].some(s => bytes.includes(Buffer.from(s)));
    });
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-secrets-'));
  server = await startTestServer({ files: { '/secret.txt': `the password is ${PW}\n`, '/plain.txt': 'plain\n' }, auth: { username: 'alice', password: PW, method: 'basic' } });
  // The test server listens on 127.0.0.1: connectors may reach it only when allowed.
  bridge = await startBridgeProcess({ dataDir, token, parallel: 2, extraArgs: ['--allow-connector-host', '127.0.0.1'] });
}, 60_000);

afterAll(async () => {
  await bridge?.kill('SIGTERM');
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('missing {{variables}} are refused with 422 naming them', async () => {
  const red = secretRed(server.url) as { inputs: { payload: { connector: { access: { auth: Record<string, string> } } } } };
  red.inputs.payload.connector.access.auth.username = '{{user}}';
  const none = await bridge!.api<{ error: string; fix: string }>('POST', '/runs', { red });
  expect(none.status).toBe(422);
  expect(none.body.error).toBe('missing values for {{variables}}: user, pw');
  expect(none.body.fix).toBe('send them in "variables": {"name": "value"}');
  const one = await bridge!.api<{ error: string }>('POST', '/runs', { red, variables: { user: 'alice' } });
  expect(one.status).toBe(422);
  expect(one.body.error).toBe('missing values for {{variables}}: pw');
  // Nothing was stored for the refused submissions.
  expect((await bridge!.api<{ runs: unknown[] }>('GET', '/runs')).body.runs).toEqual([]);
});

// The engine hands everything on unmasked: the store is the one place that masks, and
// the WebSocket sends what the store committed, live as well as replayed.
test('a failing command: its command, error and live WebSocket events are masked', async () => {
  const red = secretRed(server.url) as { inputs: { script: string; payload: { connector: { access: { url: string } } } } };
  // A failed run keeps its work folder (inputs included): this input holds no password, the scan of the last test stays exact.
  red.inputs.payload.connector.access.url = `${server.url}/plain.txt`;
  // The socket is open before the container prints (sleep 1): these events reach it live.
  red.inputs.script = 'sleep 1; echo "arg: $1"; echo "bad $1" >&2; exit 3';
  const id = await postRun(bridge!, { red, variables: { pw: PW } });
  const ws = await openWs(`${bridge!.url.replace(/^http/, 'ws')}/api/v1/runs/${id}/events?since=0&token=${token}`);
  const run = await waitForRunEnd<RunRecord & { batches: { error?: string }[] }>(bridge!, id);
  const error = `the command exited with code 3; its stderr ends with:\nbad ${MASK}`;
  expect(run.state).toBe('failed');
  expect(run.error).toBe(error);
  expect(run.batches[0].error).toBe(error);
  expect(run.result?.command).toEqual(['sh', '-c', red.inputs.script, '/cc/inputs/payload/payload', MASK]);
  expect(JSON.stringify(run)).not.toContain(PW);

  expect((await ws.closed).code).toBe(1000);
  expect(JSON.stringify(ws.messages)).not.toContain(PW);
  const logData = (stream: string) =>
    ws.messages
      .filter(m => m.event.type === 'log' && m.event.stream === stream)
      .map(m => m.event.data)
      .join('');
  expect(logData('stdout')).toBe(`arg: ${MASK}\n`);
  expect(logData('stderr')).toBe(`bad ${MASK}\n`);
  expect(ws.messages.some(m => m.event.type === 'state' && m.event.error === error)).toBe(true);
  expect(bridge!.output()).not.toContain(PW);
}, 60_000);

test('the password is used, printed by the container, and kept out of every file, answer and log', async () => {
  const id = await postRun(bridge!, { red: secretRed(server.url), variables: { pw: PW } });
  const run = await waitForRunEnd<RunRecord>(bridge!, id);
  expect({ state: run.state, error: run.error }).toEqual({ state: 'succeeded', error: undefined });
  // The bridge really authenticated with the filled-in password.
  const got = server.requests.filter(r => r.url === '/secret.txt' && r.headers.authorization === `Basic ${ENCODED[0]}`);
  expect(got.length).toBeGreaterThanOrEqual(1);

  // GET /runs/{id}: the pasted argument is masked, the {{pw}} reference stays readable.
  const text = JSON.stringify(run);
  expect(text).not.toContain(PW);
  expect(run.red.inputs.token).toBe(MASK);
  expect(run.red.inputs.payload.connector.access.auth).toEqual({ username: 'alice', password: '{{pw}}', method: 'basic' });
  const command = ['sh', '-c', run.red.inputs.script, '/cc/inputs/payload/payload', MASK];
  expect(run.result?.command).toEqual(command);
  expect(run.batches[0].command).toEqual(command);

  // The log endpoint: what the container printed, with the password masked.
  const logs = async (stream: string) =>
    (await fetch(`${bridge!.url}/api/v1/runs/${id}/logs?stream=${stream}&batch=0`, { headers: { Authorization: `Bearer ${token}` } })).text();
  expect(await logs('stdout')).toBe(`arg: ${MASK}\nthe password is ${MASK}\n`);
  expect(await logs('stderr')).toBe(`stderr arg: ${MASK}\n`);

  // The WebSocket: every stored event, log data masked, then closed after the final state.
  const ws = await openWs(`${bridge!.url.replace(/^http/, 'ws')}/api/v1/runs/${id}/events?since=0&token=${token}`);
  expect((await ws.closed).code).toBe(1000);
  const wsText = JSON.stringify(ws.messages);
  expect(wsText).not.toContain(PW);
  const wsStdout = ws.messages
    .filter(m => m.event.type === 'log' && m.event.stream === 'stdout')
    .map(m => m.event.data)
    .join('');
  expect(wsStdout).toBe(`arg: ${MASK}\nthe password is ${MASK}\n`);
  expect(ws.messages.some(m => m.event.type === 'log' && m.event.stream === 'stderr' && m.event.data === `stderr arg: ${MASK}\n`)).toBe(true);

  // The declared output keeps the container's bytes (the password included). It is
  // the only file under the data dir allowed to hold it, so it is excluded by name.
  const copy = run.result?.outputs?.copy;
  expect(copy?.path).toBe(path.join(run.dir, 'outputs', 'copy.txt'));
  expect(fs.readFileSync(copy!.path, 'utf8')).toBe(`the password is ${PW}\n`);
  const outputs = [copy!.path];

  // Every other file, SQLite (-wal and -shm while the bridge runs) and log files included.
  const files = allFiles(dataDir);
  expect(files).toEqual(expect.arrayContaining([path.join(dataDir, 'redlab.sqlite'), path.join(dataDir, 'redlab.sqlite-wal'), path.join(dataDir, 'redlab.sqlite-shm')]));
  expect(files.some(f => f.startsWith(run.dir) && f.endsWith('.log'))).toBe(true);
  expect(filesWithSecret(outputs)).toEqual([]);
  expect(filesWithSecret([])).toEqual(outputs); // the search does find the password where it is
  // Masked text did reach the files: the stored logs hold ******** where the password was.
  expect(fs.readFileSync(path.join(run.dir, 'batch-0.stdout.log'), 'utf8')).toBe(`arg: ${MASK}\nthe password is ${MASK}\n`);

  // The bridge's own log lines.
  expect(bridge!.output()).not.toContain(PW);
  for (const e of ENCODED) expect(bridge!.output()).not.toContain(e);

  // After a clean stop (the WAL checkpointed into redlab.sqlite) still nowhere.
  expect(await bridge!.kill('SIGTERM')).toBe(0);
  bridge = undefined;
  expect(filesWithSecret(outputs)).toEqual([]);
}, 120_000);
