// The bridge's masking choke points on their own, on a real SQLite store: every write
// (RED, options, state errors, batches, results, events, log bytes) is masked with the
// secrets of the runs in flight, a secret split across log chunks included; the
// logger masks every line (pretty too); an HTTP error answer is masked.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MASK, SecretMasker, SecretRegistry } from '../../../src/red/mask';
import type { RunResult } from '../../../src/red/run';
import { RunStore, type StoredEvent } from '../../src/store';
import { createLogger } from '../../src/bridge/http';
import { encodedForms, leakedForms } from '../helpers/secret-forms';
import { RequestError, type SubmitInput } from '../../src/bridge/service';
import { auth, startHarness, TestRunService } from './helpers/api';

const SECRET = 'sé cret/Value 42';
const FORMS = [encodedForms(SECRET, 'alice')];

let tmp: string;
let store: RunStore;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-secrets-store-'));
  store = RunStore.open(tmp);
});
afterEach(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function masker(): SecretMasker {
  const m = new SecretMasker();
  m.addBasicAuth('alice', SECRET);
  return m;
}

function allBytes(dir: string): Buffer {
  return Buffer.concat(
    fs.readdirSync(dir, { withFileTypes: true }).map(e => (e.isDirectory() ? allBytes(path.join(dir, e.name)) : e.isFile() ? fs.readFileSync(path.join(dir, e.name)) : Buffer.alloc(0)))
  );
}

test('every write of a run that holds secrets is masked, in every form', () => {
  const forms = FORMS[0];
  const red = { redVersion: '9', inputs: { token: SECRET, url: `https://x/?t=${encodeURIComponent(SECRET)}` } };
  const id = store.createRun({ red, secrets: masker(), options: { redPath: forms[2] }, image: { url: forms[3] } }).id;
  const seen: StoredEvent[] = [];
  store.subscribe(id, e => seen.push(e));
  store.appendEvent(id, { type: 'info', message: `auth: Basic ${Buffer.from(`alice:${SECRET}`).toString('base64')}` });
  // A log whose secret is cut across chunks at every place.
  const line = `token=${encodeURIComponent(SECRET)} raw=${SECRET}\n`;
  for (let i = 0; i < line.length; i += 3) store.appendLog(id, 0, 'stdout', line.slice(i, i + 3));
  store.appendLog(id, 0, 'stderr', `unfinished ${SECRET.slice(0, 5)}`);
  store.setState(id, 'preparing');
  store.setBatch(id, 0, { state: 'preparing', command: ['sh', '-c', SECRET], error: forms.join(' ') });
  const result: RunResult = { state: 'failed', image: { url: 'i', pulled: false }, batches: [], timings: { total: 1 }, error: JSON.stringify({ e: SECRET }) };
  store.setResult(id, result);
  store.setState(id, 'failed', { error: `GET https://${SECRET.toUpperCase()}.example failed` });

  const record = store.getRun(id)!;
  expect(leakedForms(JSON.stringify(record), FORMS)).toEqual([]);
  expect(record.red).toEqual({ redVersion: '9', inputs: { token: MASK, url: `https://x/?t=${MASK}` } });
  expect(store.readLog(id, { batch: 0, stream: 'stdout' }).data.toString()).toBe(`token=${MASK} raw=${MASK}\n`);
  // The tail that might have begun a secret was held back, then written at the final state.
  expect(store.readLog(id, { batch: 0, stream: 'stderr' }).data.toString()).toBe(`unfinished ${SECRET.slice(0, 5)}`);
  expect(leakedForms(JSON.stringify(seen), FORMS)).toEqual([]);
  expect(leakedForms(JSON.stringify(store.logEventsData(id, store.eventsSince(id))), FORMS)).toEqual([]);
  store.close();
  expect(leakedForms(allBytes(tmp), FORMS)).toEqual([]);
  // The scan does find a secret where one is.
  expect(leakedForms(Buffer.from(`x ${encodeURIComponent(SECRET)}`), FORMS)).toEqual([encodeURIComponent(SECRET)]);
});

test("a run's secrets mask the other runs' writes too, until released", () => {
  const a = store.createRun({ red: {}, secrets: masker() }).id;
  const b = store.createRun({ red: {} }).id;
  store.appendLog(b, 0, 'stdout', `leak ${SECRET}\n`);
  store.releaseSecrets(a);
  store.appendLog(b, 0, 'stdout', `late ${SECRET}\n`);
  expect(store.readLog(b, { batch: 0, stream: 'stdout' }).data.toString()).toBe(`leak ${MASK}\nlate ${SECRET}\n`);
});

test.each([false, true])('the logger masks every line (pretty: %s)', pretty => {
  const lines: string[] = [];
  const secrets = new SecretRegistry();
  secrets.hold('r', masker());
  const log = createLogger({ pretty, masker: secrets, destination: { write: l => lines.push(l) } });
  log.error({ err: new Error(`cannot fetch https://h/?t=${encodeURIComponent(SECRET)}`), value: SECRET }, `run failed: ${JSON.stringify({ s: SECRET })}`);
  // As createApp wraps the bridge's logger: a child with the API's serializers.
  createLogger(log).child({ reqId: 'q' }).warn(`child ${SECRET}`);
  expect(lines.length).toBe(2);
  expect(lines.join('')).toContain(MASK);
  expect(leakedForms(lines.join(''), FORMS)).toEqual([]);
});

test('an HTTP error answer that quotes a secret of a run in flight is masked', async () => {
  /** A service whose refusal quotes what it was given (as a careless message might). */
  class QuotingService extends TestRunService {
    override async submit(input: SubmitInput): Promise<never> {
      throw new RequestError(400, `cannot use ${JSON.stringify(input.variables)} with https://u:${encodeURIComponent(String(input.variables?.pw))}@h/`);
    }
  }
  const h = await startHarness({}, st => new QuotingService(st));
  try {
    h.store.createRun({ red: {}, secrets: masker() });
    const res = await fetch(`${h.url}/api/v1/runs`, { method: 'POST', headers: auth({ 'content-type': 'application/json' }), body: JSON.stringify({ red: {}, variables: { pw: SECRET } }) });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).toContain(MASK);
    expect(leakedForms(text, FORMS)).toEqual([]);
  } finally {
    await h.close();
  }
});
