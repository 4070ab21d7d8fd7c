// Secrets in every encoding, through a real bridge process: a basic-auth password with a
// space and non-ASCII letters, a URL token with a space, and host names with upper-case
// and non-ASCII letters (which a URL parser lowercases and writes in punycode). The
// downloaded file holds each secret in every encoding the platform's encoders make; the
// container prints it. None of these forms may reach a run record, an event, the
// log endpoint, the SQLite file, a log file or the bridge's own log; a failing
// connector's error (which quotes the URL as the parser wrote it) is masked too.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startTestServer, type TestServer } from '../helpers/http-server';
import { encodedForms, leakedForms } from '../helpers/secret-forms';
import { openWs } from './helpers/api';
import { startBridgeProcess, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

const token = 'secrets-encoded-token-0123456789';
const PW = 'Pä ss-wörd "7" \\x';
const TOK = 'tok en Ünï-42';
const HOST = 'Tenant-Sëcret';
const HOST_ASCII = 'MyLabHOST-77';
const MASK = '********';
/** What the served file holds (the secrets of the run that downloads it), and everything scanned for. */
const PAYLOAD_FORMS = [encodedForms(PW, 'alice'), encodedForms(TOK)];
const FORMS = [...PAYLOAD_FORMS, encodedForms(HOST), encodedForms(HOST_ASCII)];

interface RunRecord {
  id: string;
  state: string;
  error?: string;
  dir: string;
  result?: { outputs?: Record<string, { path: string } | null> };
}

let dataDir: string;
let server: TestServer;
let bridge: BridgeProcess | undefined;

function red(url: string, auth?: Record<string, string>): Record<string, unknown> {
  return {
    redVersion: '9',
    cli: {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: ['sh', '-c'],
      inputs: { script: { type: 'string', inputBinding: { position: 0 } }, payload: { type: 'File', inputBinding: { position: 1 } } },
      outputs: { copy: { type: 'File', outputBinding: { glob: 'copy.txt' } } }
    },
    inputs: {
      script: 'cat "$0"; cat "$0" >&2; cp "$0" copy.txt',
      payload: { class: 'File', connector: { command: 'red-connector-http', access: { url, ...(auth ? { auth } : {}) } } }
    },
    outputs: {},
    container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
  };
}

function allFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? allFiles(p) : e.isFile() ? [p] : [];
  });
}

async function finished(id: string): Promise<RunRecord> {
  return waitForRunEnd<RunRecord>(bridge!, id);
}

async function events(id: string): Promise<string> {
  const ws = await openWs(`${bridge!.url.replace(/^http/, 'ws')}/api/v1/runs/${id}/events?since=0&token=${token}`);
  await ws.closed;
  return JSON.stringify(ws.messages);
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-secrets-enc-'));
  // Every form of every secret, one per line: what the container prints.
  const payload = PAYLOAD_FORMS.flat().join('\n') + '\n';
  server = await startTestServer({ files: { '/secret.txt': payload }, auth: { username: 'alice', password: PW, method: 'basic' } });
  // The test server listens on 127.0.0.1: allowed explicitly.
  bridge = await startBridgeProcess({ dataDir, token, parallel: 2, extraArgs: ['--allow-connector-host', '127.0.0.1'] });
}, 60_000);

afterAll(async () => {
  await bridge?.kill('SIGTERM');
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('no encoding of a secret reaches a record, an event, a log, a file or the bridge log', async () => {
  const ok = await bridge!.api<{ id: string }>('POST', '/runs', {
    red: red(`${server.url}/secret.txt?token={{tok}}`, { username: 'alice', password: '{{pw}}', method: 'basic' }),
    variables: { pw: PW, tok: TOK }
  });
  expect(ok.status).toBe(201);
  // Connector errors quote the URL as the parser wrote it: punycode and lowercased hosts, percent-encoded query.
  const bad = await bridge!.api<{ id: string }>('POST', '/runs', { red: red('http://{{h}}.invalid/f.txt?token={{tok}}'), variables: { h: HOST, tok: TOK } });
  const bad2 = await bridge!.api<{ id: string }>('POST', '/runs', { red: red('http://{{h}}.invalid/f.txt'), variables: { h: HOST_ASCII } });
  const run = await finished(ok.body.id);
  expect({ state: run.state, error: run.error }).toEqual({ state: 'succeeded', error: undefined });
  const failed = await finished(bad.body.id);
  const failed2 = await finished(bad2.body.id);
  expect(failed.state).toBe('failed');
  expect(failed.error).toMatch(/^input payload: GET http:\/\/\*{8}\.invalid\/f\.txt\?token=\*{8}: host not found/);
  expect(failed2.error).toMatch(/^input payload: GET http:\/\/\*{8}\.invalid\/f\.txt: host not found/);

  // The container printed every form; the logs hold ******** instead of each.
  const stdout = await (await fetch(`${bridge!.url}/api/v1/runs/${run.id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } })).text();
  expect(stdout.split('\n').filter(Boolean)).toEqual(PAYLOAD_FORMS.flat().map(() => MASK));

  for (const r of [run, failed, failed2]) {
    expect(leakedForms(JSON.stringify((await bridge!.api('GET', `/runs/${r.id}`)).body), FORMS)).toEqual([]);
    expect(leakedForms(await events(r.id), FORMS)).toEqual([]);
  }
  expect(leakedForms(JSON.stringify((await bridge!.api('GET', '/runs')).body), FORMS)).toEqual([]);

  // Files: the declared output keeps the container's bytes; nothing else may hold a form.
  const copy = run.result!.outputs!.copy!.path;
  const leaks = (files: string[]) => files.filter(f => f !== copy && leakedForms(fs.readFileSync(f), FORMS).length);
  expect(leakedForms(fs.readFileSync(copy), PAYLOAD_FORMS).length).toBe(PAYLOAD_FORMS.flat().length); // the scan finds them where they are
  expect(allFiles(dataDir).some(f => f.endsWith('.log'))).toBe(true);
  expect(leaks(allFiles(dataDir))).toEqual([]);
  expect(leakedForms(bridge!.output(), FORMS)).toEqual([]);
  // After a clean stop (the WAL checkpointed into redlab.sqlite) still nowhere.
  expect(await bridge!.kill('SIGTERM')).toBe(0);
  bridge = undefined;
  expect(leaks(allFiles(dataDir))).toEqual([]);
}, 120_000);
