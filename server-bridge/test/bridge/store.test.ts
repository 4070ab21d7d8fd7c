// The run store on a real SQLite file: schema and migrations, the state machine,
// events and log files, paging, live following, and what survives a SIGKILL.
import Database from 'better-sqlite3';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SecretMasker } from '../../../src/red/mask';
import type { ExecutionRecord, NotebookOutput } from '../../../src/red/bridge-api';
import { SessionDb } from '../../src/store/session-db';
import { STORED_STREAM_CHARS } from '../../src/store/stored-outputs';
import type { RunResult, RunState } from '../../../src/red/run';
import {
  ALL_STATES,
  IllegalTransitionError,
  MIGRATIONS,
  RunNotFoundError,
  RunStore,
  SCHEMA_VERSION,
  SchemaVersionError,
  isLegalBatchTransition,
  isLegalRunTransition,
  isRunId,
  maskForStore,
  migrate,
  newRunId,
  runIdTime,
  type Masked,
  type StoredEvent,
  type StoredLogEvent
} from '../../src/store';

const repo = path.resolve(__dirname, '../../..');
const storeModule = path.join(repo, 'server-bridge/src/store/index.ts');

let tmp: string;
let store: RunStore;
const red = { redVersion: '9', cli: { baseCommand: 'echo' } } as unknown as Masked<unknown>;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-store-'));
  store = RunStore.open(tmp);
});
afterEach(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const types = (events: StoredEvent[]) => events.map(e => e.event.type);
const seqs = (events: StoredEvent[]) => events.map(e => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function toRunning(id: string): void {
  store.setState(id, 'preparing');
  store.setState(id, 'running');
}

describe('ids', () => {
  test('ULID-shaped, unique, strictly increasing within a millisecond, time recoverable', () => {
    const t = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const ids = Array.from({ length: 1000 }, () => newRunId(t));
    expect(ids.every(isRunId)).toBe(true);
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
    expect(runIdTime(ids[0])).toBe(t);
    expect(newRunId(t + 1) > ids[999]).toBe(true);
    expect(isRunId('../../etc/passwd')).toBe(false);
  });
});

describe('opening', () => {
  test('creates redlab.sqlite in WAL mode with synchronous=NORMAL at the latest schema version', () => {
    expect(store.dbPath).toBe(path.join(tmp, 'redlab.sqlite'));
    const db = new Database(store.dbPath, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
      expect(tables).toEqual(['batches', 'events', 'log_files', 'runs', 'session_executions', 'sessions', 'state_history']);
    } finally {
      db.close();
    }
    // synchronous is per connection: read it from the store's own.
    const s = (store as unknown as { db: Database.Database }).db;
    expect(s.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    const full = RunStore.open(path.join(tmp, 'full'), { synchronous: 'FULL' });
    expect((full as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true })).toBe(2);
    full.close();
  });

  test('a v1 database is migrated to the latest version, backfilling log_files from its log events', () => {
    store.close();
    const dir = path.join(tmp, 'v1');
    fs.mkdirSync(path.join(dir, 'runs'), { recursive: true });
    const id = newRunId();
    const db = new Database(path.join(dir, 'redlab.sqlite'));
    expect(migrate(db, 1)).toEqual({ from: 0, to: 1 });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.prepare(`INSERT INTO runs (id, created_at, updated_at, state, red, options) VALUES (?, 1000, 2000, 'running', '{"redVersion":"9"}', '{"parallel":2}')`).run(id);
    const ins = db.prepare('INSERT INTO events (run_id, seq, at, type, payload) VALUES (?, ?, 1500, ?, ?)');
    ins.run(id, 1, 'state', JSON.stringify({ type: 'state', state: 'queued' }));
    ins.run(id, 2, 'log', JSON.stringify({ type: 'log', batch: 0, stream: 'stdout', offset: 0, length: 6 }));
    ins.run(id, 3, 'log', JSON.stringify({ type: 'log', batch: 0, stream: 'stderr', offset: 0, length: 4 }));
    ins.run(id, 4, 'log', JSON.stringify({ type: 'log', batch: 0, stream: 'stdout', offset: 6, length: 6 }));
    db.prepare(`INSERT INTO batches (run_id, idx, state, updated_at) VALUES (?, 0, 'running', 1500)`).run(id);
    db.close();
    fs.mkdirSync(path.join(dir, 'runs', id));
    // The stdout file also holds 3 bytes a crash left behind (never committed).
    fs.writeFileSync(path.join(dir, 'runs', id, 'batch-0.stdout.log'), 'hello\nworld\nXYZ');
    fs.writeFileSync(path.join(dir, 'runs', id, 'batch-0.stderr.log'), 'err\n');

    store = RunStore.open(dir);
    const check = new Database(store.dbPath, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(check.prepare('SELECT batch, stream, bytes FROM log_files ORDER BY stream').all()).toEqual([
      { batch: 0, stream: 'stderr', bytes: 4 },
      { batch: 0, stream: 'stdout', bytes: 12 }
    ]);
    check.close();
    const run = store.getRun(id)!;
    expect(run.options).toEqual({ parallel: 2 });
    expect(run.batches[0].logBytes).toEqual({ stdout: 12, stderr: 4 });
    expect(fs.readFileSync(store.logPath(id, 0, 'stdout'), 'utf8')).toBe('hello\nworld\n'); // trimmed on open
    expect(store.appendLog(id, 0, 'stdout', 'again\n')).toEqual({ seq: 5, offset: 12 });
    expect(store.readLog(id, { batch: 0, stream: 'stdout' }).data.toString()).toBe('hello\nworld\nagain\n');
  });

  test('migrations are numbered 1, 2, … and a failing step leaves the database at its old version', () => {
    expect(MIGRATIONS.map(m => m.version)).toEqual(range(1, MIGRATIONS.length));
    const db = new Database(':memory:');
    migrate(db, 1);
    db.exec('CREATE TABLE log_files (x)'); // makes step 2 fail half-way
    expect(() => migrate(db)).toThrow(/log_files already exists/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.close();
  });

  test('a database from a newer RED Lab is refused, not touched', () => {
    store.close();
    const db = new Database(path.join(tmp, 'redlab.sqlite'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => RunStore.open(tmp)).toThrow(SchemaVersionError);
    expect(() => RunStore.open(tmp)).toThrow(/newer than this bridge supports/);
    store = RunStore.open(path.join(tmp, 'other'));
  });
});

describe('runs and states', () => {
  test('createRun: queued, with history, a state event, options, image and the run folder', () => {
    const run = store.createRun({ red, options: { parallel: 2, notebookPath: 'a/b.ipynb', labels: { k: 'v' } }, image: { url: 'redlab/busybox:1' }, wallClockLimitMs: 60_000 });
    expect(isRunId(run.id)).toBe(true);
    expect(run.state).toBe('queued');
    expect(run.red).toEqual(red);
    expect(run.options).toEqual({ parallel: 2, notebookPath: 'a/b.ipynb', labels: { k: 'v' } });
    expect(run.image).toEqual({ url: 'redlab/busybox:1' });
    expect(run.wallClockLimitMs).toBe(60_000);
    expect(run.history).toEqual([{ batch: null, state: 'queued', at: run.createdAt }]);
    expect(run.lastSeq).toBe(1);
    expect(run.dir).toBe(path.join(tmp, 'runs', run.id));
    expect(fs.statSync(run.dir).isDirectory()).toBe(true);
    expect(store.eventsSince(run.id)).toEqual([{ runId: run.id, seq: 1, at: run.createdAt, event: { type: 'state', state: 'queued' } }]);
    expect(() => store.createRun({ red, wallClockLimitMs: -5 })).toThrow(/wallClockLimitMs/);
  });

  test('the store keeps only what the caller masked', () => {
    const masker = new SecretMasker();
    masker.add('s3cr3t-token');
    const raw = { redVersion: '9', inputs: { f: { connector: { access: { url: 'https://x/?token=s3cr3t-token' } } } } };
    const run = store.createRun({ red: maskForStore(masker, raw) });
    store.close();
    const bytes = fs.readFileSync(path.join(tmp, 'redlab.sqlite')).toString('latin1');
    expect(bytes).not.toContain('s3cr3t-token');
    expect(bytes).toContain('https://x/?token=********');
    store = RunStore.open(tmp);
    expect(JSON.stringify(store.getRun(run.id)!.red)).toContain('token=********');
  });

  test('the run state machine: the happy path, failed/cancelled from anywhere not final, nothing after final', () => {
    const legal = new Set([
      'queued>preparing', 'preparing>running', 'running>collecting', 'collecting>succeeded',
      ...['queued', 'preparing', 'running', 'collecting'].flatMap(s => [`${s}>failed`, `${s}>cancelled`])
    ]);
    for (const from of ALL_STATES) for (const to of ALL_STATES) expect([`${from}>${to}`, isLegalRunTransition(from, to)]).toEqual([`${from}>${to}`, legal.has(`${from}>${to}`)]);

    const t0 = Date.UTC(2025, 5, 1);
    let clock = t0;
    store.close();
    store = RunStore.open(tmp, { now: () => (clock += 1000) });
    const run = store.createRun({ red });
    for (const s of ['preparing', 'running', 'collecting', 'succeeded'] as RunState[]) store.setState(run.id, s);
    const done = store.getRun(run.id)!;
    expect(done.state).toBe('succeeded');
    expect(done.history.map(h => h.state)).toEqual(['queued', 'preparing', 'running', 'collecting', 'succeeded']);
    expect(done.history.map(h => h.at)).toEqual(range(2, 6).map(i => new Date(t0 + i * 1000).toISOString()));
    expect(done.finishedAt).toBe(new Date(t0 + 6000).toISOString());
    expect(done.updatedAt).toBe(done.finishedAt);
    expect(() => store.setState(run.id, 'failed')).toThrow(IllegalTransitionError);
    expect(() => store.setState(run.id, 'failed')).toThrow(`run ${run.id}: cannot go from succeeded to failed`);

    const skip = store.createRun({ red });
    expect(() => store.setState(skip.id, 'running')).toThrow('cannot go from queued to running');
    expect(store.getRun(skip.id)!.history).toHaveLength(1); // the refused change left no trace
    expect(store.eventsSince(skip.id)).toHaveLength(1);
    store.setState(skip.id, 'preparing');
    store.setState(skip.id, 'failed', { error: 'image redlab/x:1 not found' });
    const failed = store.getRun(skip.id)!;
    expect(failed.error).toBe('image redlab/x:1 not found');
    expect(failed.history[2]).toMatchObject({ batch: null, state: 'failed', error: 'image redlab/x:1 not found' });
    expect(store.eventsSince(skip.id).map(e => e.event)).toEqual([
      { type: 'state', state: 'queued' },
      { type: 'state', state: 'preparing' },
      { type: 'state', state: 'failed', error: 'image redlab/x:1 not found' }
    ]);
    expect(() => store.setState('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'preparing')).toThrow(RunNotFoundError);
  });

  test('batches: created queued, patched, states forward only, with history and events', () => {
    const run = store.createRun({ red });
    toRunning(run.id);
    expect(store.setBatch(run.id, 1, { containerId: 'c1', command: ['echo', 'hi'] })).toBe(0); // no state change, no event
    store.setState(run.id, 'running', { batch: 1 }); // queued → running: a batch may skip phases
    store.setBatch(run.id, 0, { state: 'preparing' });
    expect(() => store.setState(run.id, 'preparing', { batch: 1 })).toThrow('batch 1: cannot go from running to preparing');
    store.setBatch(run.id, 1, { state: 'failed', exitCode: 3, error: 'exit code 3' });
    expect(() => store.setBatch(run.id, 1, { state: 'succeeded' })).toThrow(IllegalTransitionError);
    expect(isLegalBatchTransition('queued', 'collecting')).toBe(true);
    expect(isLegalBatchTransition('cancelled', 'failed')).toBe(false);

    const rec = store.getRun(run.id)!;
    expect(rec.batchCount).toBe(2);
    expect(rec.batches.map(b => ({ ...b, updatedAt: undefined }))).toEqual([
      { index: 0, state: 'preparing', logBytes: { stdout: 0, stderr: 0 }, updatedAt: undefined },
      { index: 1, state: 'failed', containerId: 'c1', command: ['echo', 'hi'], exitCode: 3, error: 'exit code 3', logBytes: { stdout: 0, stderr: 0 }, updatedAt: undefined }
    ]);
    expect(rec.history.filter(h => h.batch !== null).map(h => [h.batch, h.state])).toEqual([
      [1, 'running'],
      [0, 'preparing'],
      [1, 'failed']
    ]);
    expect(store.eventsSince(run.id, 3).map(e => e.event)).toEqual([
      { type: 'state', state: 'running', batch: 1 },
      { type: 'state', state: 'preparing', batch: 0 },
      { type: 'state', state: 'failed', batch: 1, error: 'exit code 3' }
    ]);
  });

  test('setResult stores the result and fills the batches from it', () => {
    const run = store.createRun({ red });
    toRunning(run.id);
    store.setBatch(run.id, 0, { state: 'running', containerId: 'abc' });
    store.setState(run.id, 'collecting');
    const result: RunResult = {
      state: 'succeeded',
      image: { url: 'redlab/busybox:1', id: 'sha256:1', pulled: false },
      batches: [
        { index: 0, state: 'succeeded', command: ['cat', '/in/a'], exitCode: 0, inputs: {}, outputs: { out: { path: '/o/a', class: 'File', size: 2, sha256: 'ab' } }, timings: { running: 5, total: 9 }, outdir: '/o' },
        { index: 1, state: 'failed', command: ['cat', '/in/b'], exitCode: 1, error: 'exit code 1', inputs: {}, outputs: {}, timings: { total: 3 }, outdir: '/o_1' }
      ],
      timings: { total: 12 }
    };
    const seq = store.setResult(run.id, result);
    store.setState(run.id, 'succeeded');
    const rec = store.getRun(run.id)!;
    expect(rec.result).toEqual(result);
    expect(rec.batches[0]).toMatchObject({ state: 'succeeded', containerId: 'abc', exitCode: 0, command: ['cat', '/in/a'], timings: { running: 5, total: 9 } });
    expect(rec.batches[0].outputs!.out!.sha256).toBe('ab');
    expect(rec.batches[1]).toMatchObject({ state: 'failed', exitCode: 1, error: 'exit code 1' });
    expect(store.eventsSince(run.id, seq - 1).map(e => e.event)).toEqual([
      { type: 'result', state: 'succeeded' },
      { type: 'state', state: 'succeeded' }
    ]);
  });

  test('listRuns pages newest first by id, filters by state; unfinishedRuns lists oldest first', () => {
    let clock = Date.UTC(2025, 0, 1);
    store.close();
    store = RunStore.open(tmp, { now: () => (clock += 10) });
    const ids = range(1, 7).map(() => store.createRun({ red }).id);
    store.setState(ids[1], 'cancelled');
    store.setState(ids[4], 'failed');
    toRunning(ids[5]);

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = store.listRuns({ limit: 3, cursor });
      pages.push(page.runs.map(r => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toEqual([[ids[6], ids[5], ids[4]], [ids[3], ids[2], ids[1]], [ids[0]]]);

    expect(store.listRuns({ state: ['failed', 'cancelled'] }).runs.map(r => r.id)).toEqual([ids[4], ids[1]]);
    const queued = store.listRuns({ state: 'queued', limit: 2 });
    expect(queued.runs.map(r => r.id)).toEqual([ids[6], ids[3]]);
    expect(store.listRuns({ state: 'queued', limit: 2, cursor: queued.nextCursor }).runs.map(r => r.id)).toEqual([ids[2], ids[0]]);
    expect(() => store.listRuns({ state: 'bogus' as RunState })).toThrow(/unknown run state/);

    const summary = store.listRuns({ limit: 1 }).runs[0];
    expect(summary).not.toHaveProperty('red');
    expect(summary).toMatchObject({ id: ids[6], state: 'queued', lastSeq: 1, batchCount: 0 });
    expect(store.unfinishedRuns().map(r => [r.id, r.state])).toEqual([
      [ids[0], 'queued'], [ids[2], 'queued'], [ids[3], 'queued'], [ids[5], 'running'], [ids[6], 'queued']
    ]);
  });

  test('deleteRun: only final runs; rows cascade; files stay unless purged', () => {
    const a = store.createRun({ red });
    expect(() => store.deleteRun(a.id)).toThrow('cancel it before deleting it');
    store.appendEvent(a.id, { type: 'info', message: 'x' });
    store.appendLog(a.id, 0, 'stdout', 'out\n');
    store.setBatch(a.id, 0, { state: 'running' });
    store.setState(a.id, 'cancelled');
    const b = store.createRun({ red });
    store.setState(b.id, 'failed');

    expect(store.deleteRun(a.id)).toBe(true);
    expect(store.getRun(a.id)).toBeUndefined();
    expect(store.eventsSince(a.id)).toEqual([]);
    expect(fs.existsSync(path.join(tmp, 'runs', a.id, 'batch-0.stdout.log'))).toBe(true);
    const db = new Database(store.dbPath, { readonly: true });
    for (const t of ['batches', 'state_history', 'events', 'log_files']) {
      expect([t, db.prepare(`SELECT COUNT(*) FROM ${t} WHERE run_id = ?`).pluck().get(a.id)]).toEqual([t, 0]);
    }
    db.close();
    expect(() => store.appendEvent(a.id, { type: 'info', message: 'late' })).toThrow(RunNotFoundError);

    expect(store.deleteRun(b.id, { purge: true })).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'runs', b.id))).toBe(false);
    expect(store.deleteRun(b.id)).toBe(false);
  });
});

describe('events and logs', () => {
  test('seq is per run, from 1, without gaps; eventsSince pages', () => {
    const a = store.createRun({ red });
    const b = store.createRun({ red });
    for (let i = 0; i < 10; i++) {
      expect(store.appendEvent(a.id, { type: 'info', message: `a${i}` })).toBe(i + 2);
      if (i % 2) store.appendEvent(b.id, { type: 'phase', phase: 'pull', status: 'start' });
    }
    expect(seqs(store.eventsSince(a.id))).toEqual(range(1, 11));
    expect(seqs(store.eventsSince(b.id))).toEqual(range(1, 6));
    expect(store.eventsSince(a.id, 4, 3).map(e => e.event)).toEqual([
      { type: 'info', message: 'a3' },
      { type: 'info', message: 'a4' },
      { type: 'info', message: 'a5' }
    ]);
    expect(store.eventsSince(a.id, 11)).toEqual([]);
    expect(() => store.appendEvent(a.id, { type: 'state', state: 'failed' } as never)).toThrow(/setState/);
    expect(() => store.appendEvent('01ARZ3NDEKTSV4RRFFQ69G5FAV', { type: 'info', message: 'x' })).toThrow(RunNotFoundError);
  });

  test('log bytes go to batch-<n>.<stream>.log; the database gets offsets only', () => {
    const run = store.createRun({ red });
    toRunning(run.id);
    const marker = 'UNIQUE-LOG-MARKER-7f3a';
    expect(store.appendLog(run.id, 0, 'stdout', `${marker} one\n`)).toEqual({ seq: 4, offset: 0 });
    expect(store.appendLog(run.id, 0, 'stderr', 'warn ✓\n')).toEqual({ seq: 5, offset: 0 });
    expect(store.appendLog(run.id, 0, 'stdout', Buffer.from('two\n'))).toEqual({ seq: 6, offset: 27 });
    expect(store.appendEvent(run.id, { type: 'log', batch: 2, stream: 'stdout', data: 'batch two\n' })).toBe(7);
    expect(store.appendLog(run.id, 0, 'stdout', '')).toEqual({ seq: 0, offset: 31 });

    expect(fs.readFileSync(path.join(run.dir, 'batch-0.stdout.log'), 'utf8')).toBe(`${marker} one\ntwo\n`);
    expect(fs.readFileSync(path.join(run.dir, 'batch-0.stderr.log'), 'utf8')).toBe('warn ✓\n');
    expect(fs.readFileSync(path.join(run.dir, 'batch-2.stdout.log'), 'utf8')).toBe('batch two\n');
    const events = store.eventsSince(run.id, 3);
    expect(events.map(e => e.event)).toEqual([
      { type: 'log', batch: 0, stream: 'stdout', offset: 0, length: 27 },
      { type: 'log', batch: 0, stream: 'stderr', offset: 0, length: 9 }, // ✓ is 3 bytes
      { type: 'log', batch: 0, stream: 'stdout', offset: 27, length: 4 },
      { type: 'log', batch: 2, stream: 'stdout', offset: 0, length: 10 }
    ]);
    expect(store.logEventsData(run.id, events).map(e => (e.event as StoredLogEvent).data)).toEqual([`${marker} one\n`, 'warn ✓\n', 'two\n', 'batch two\n']);

    expect(store.readLog(run.id, { batch: 0, stream: 'stdout', since: 27 })).toEqual({ data: Buffer.from('two\n'), offset: 27, end: 31, size: 31 });
    expect(store.readLog(run.id, { batch: 0, stream: 'stdout', since: 4, maxBytes: 6 }).data.toString()).toBe('UE-LOG');
    expect(store.readLog(run.id, { batch: 5, stream: 'stderr' })).toEqual({ data: Buffer.alloc(0), offset: 0, end: 0, size: 0 });
    expect(() => store.appendLog(run.id, -1, 'stdout', 'x')).toThrow(/batch must be/);
    expect(() => store.appendLog(run.id, 0, 'stdin' as never, 'x')).toThrow(/stdout or stderr/);

    store.close();
    for (const f of fs.readdirSync(tmp).filter(f => f.startsWith('redlab.sqlite'))) {
      expect(fs.readFileSync(path.join(tmp, f)).includes(marker)).toBe(false);
    }
    store = RunStore.open(tmp);
  });

  test('a big log costs file bytes, not database bytes', () => {
    const run = store.createRun({ red });
    toRunning(run.id);
    store.close(); // checkpoints: the database file alone holds everything
    const before = fs.statSync(path.join(tmp, 'redlab.sqlite')).size;
    store = RunStore.open(tmp);
    const chunk = Buffer.alloc(1 << 20, 'a');
    for (let i = 0; i < 32; i++) store.appendLog(run.id, 0, 'stdout', chunk);
    expect(fs.statSync(store.logPath(run.id, 0, 'stdout')).size).toBe(32 << 20);
    store.close();
    expect(fs.statSync(path.join(tmp, 'redlab.sqlite')).size - before).toBeLessThanOrEqual(8 * 1024); // a page or two
    store = RunStore.open(tmp);
    expect(store.getRun(run.id)!.batches).toEqual([]); // logs need no batch row
    const tail = store.readLog(run.id, { batch: 0, stream: 'stdout', since: (32 << 20) - 10 });
    expect(tail).toMatchObject({ offset: (32 << 20) - 10, end: 32 << 20, size: 32 << 20 });
    expect(tail.data.toString()).toBe('a'.repeat(10));
  });

  test('throughput: 10,000 log chunks (and 10,000 events) in well under a few seconds', () => {
    const run = store.createRun({ red });
    toRunning(run.id);
    const line = `${'x'.repeat(79)}\n`;
    let t = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) store.appendLog(run.id, i % 3, i % 5 ? 'stdout' : 'stderr', line);
    const logMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) store.appendEvent(run.id, { type: 'info', message: `m${i}` });
    const eventMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    const replay = store.logEventsData(run.id, store.eventsSince(run.id, 0, 100_000));
    const readMs = Number(process.hrtime.bigint() - t) / 1e6;
    // eslint-disable-next-line no-console
    console.log(`run store: 10,000 appendLog ${logMs.toFixed(0)} ms, 10,000 appendEvent ${eventMs.toFixed(0)} ms, replay of ${replay.length} events with log bytes ${readMs.toFixed(0)} ms`);
    expect(replay).toHaveLength(20_003);
    expect((replay[3].event as StoredLogEvent).data).toBe(line);
    expect(logMs).toBeLessThan(3000);
    expect(eventMs).toBeLessThan(3000);
  });
});

describe('live events', () => {
  test('subscribers hear each event after it is committed, log events with their data', () => {
    const run = store.createRun({ red });
    const heard: { seq: number; type: string; data?: string; inDb: boolean }[] = [];
    const off = store.subscribe(run.id, e => {
      const inDb = store.eventsSince(run.id, e.seq - 1, 1)[0]?.seq === e.seq;
      heard.push({ seq: e.seq, type: e.event.type, data: (e.event as StoredLogEvent).data, inDb });
    });
    const all: StoredEvent[] = [];
    const offAll = store.subscribeAll(e => all.push(e));
    store.setState(run.id, 'preparing');
    store.appendLog(run.id, 0, 'stdout', 'hi\n');
    store.appendEvent(run.id, { type: 'info', message: 'm' });
    off();
    store.appendEvent(run.id, { type: 'info', message: 'after unsubscribe' });
    expect(heard).toEqual([
      { seq: 2, type: 'state', data: undefined, inDb: true },
      { seq: 3, type: 'log', data: 'hi\n', inDb: true },
      { seq: 4, type: 'info', data: undefined, inDb: true }
    ]);
    expect(seqs(all)).toEqual([2, 3, 4, 5]);
    expect(all[1].event).toEqual({ type: 'log', batch: 0, stream: 'stdout', offset: 0, length: 3 });
    offAll();
  });

  test('a subscriber that throws does not break the write', () => {
    const errors: unknown[] = [];
    store.close();
    store = RunStore.open(tmp, { onListenerError: e => errors.push(e) });
    const run = store.createRun({ red });
    store.subscribe(run.id, () => {
      throw new Error('boom');
    });
    expect(store.appendEvent(run.id, { type: 'info', message: 'x' })).toBe(2);
    expect(errors).toEqual([new Error('boom')]);
  });

  test('follow: history after `since`, then live, each event once and in order, while a writer races a slow reader', async () => {
    const run = store.createRun({ red });
    toRunning(run.id);
    for (let i = 0; i < 40; i++) store.appendLog(run.id, 0, 'stdout', `early ${i}\n`);
    const got: StoredEvent[] = [];
    const follower = store.follow(
      run.id,
      10,
      async e => {
        got.push(e);
        if (e.seq % 3 === 0) await new Promise(r => setImmediate(r)); // a slow socket
      },
      { pageSize: 7, stopWhenFinal: true }
    );
    for (let i = 0; i < 150; i++) {
      store.appendLog(run.id, 0, i % 4 ? 'stdout' : 'stderr', `live ${i}\n`);
      if (i % 10 === 0) store.appendEvent(run.id, { type: 'info', message: `tick ${i}` });
      if (i % 7 === 0) await new Promise(r => setImmediate(r));
    }
    store.setState(run.id, 'failed', { error: 'stopped' });
    await follower.done;
    const last = store.getSummary(run.id)!.lastSeq;
    expect(seqs(got)).toEqual(range(11, last));
    expect(follower.lastSeq).toBe(last);
    expect(got[got.length - 1].event).toEqual({ type: 'state', state: 'failed', error: 'stopped' });
    const logs = got.filter(e => e.event.type === 'log').map(e => (e.event as StoredLogEvent).data);
    expect(logs.slice(0, 33)).toEqual(range(7, 39).map(i => `early ${i}\n`));
    expect(logs.slice(33)).toEqual(range(0, 149).map(i => `live ${i}\n`));
  });

  test('follow: a consumer far behind drops its buffer and catches up from the database, missing nothing', async () => {
    const run = store.createRun({ red });
    const got: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>(r => (release = r));
    const follower = store.follow(run.id, 0, async e => {
      got.push(e.seq);
      if (e.seq === 2) await gate; // stuck while 500 events arrive
    }, { maxBuffered: 20 });
    await new Promise(r => setImmediate(r));
    for (let i = 0; i < 500; i++) store.appendEvent(run.id, { type: 'info', message: String(i) });
    release();
    while (follower.lastSeq < 501) await new Promise(r => setImmediate(r));
    store.appendEvent(run.id, { type: 'info', message: 'live again' });
    await new Promise(r => setImmediate(r));
    follower.stop();
    await follower.done;
    expect(got).toEqual(range(1, 502));
  });

  test('follow: a finished run is replayed and the follower ends; deleting a followed run rejects it', async () => {
    const run = store.createRun({ red });
    store.appendLog(run.id, 1, 'stderr', 'bye\n');
    store.setState(run.id, 'cancelled');
    const got: StoredEvent[] = [];
    await store.follow(run.id, 0, e => void got.push(e), { stopWhenFinal: true }).done;
    expect(types(got)).toEqual(['state', 'log', 'state']);
    expect((got[1].event as StoredLogEvent).data).toBe('bye\n');

    const f = store.follow(run.id, 3, () => undefined);
    await new Promise(r => setImmediate(r));
    store.deleteRun(run.id);
    await expect(f.done).rejects.toThrow(RunNotFoundError);
  });
});

// A child process writes through the real store module (TypeScript compiled on the fly)
// and prints each seq once the call returned, i.e. once it was committed. The test
// SIGKILLs it mid-stream, three times, and checks what a reopened store finds.
const CHILD = `
const ts = require('typescript');
const fs = require('fs');
require.extensions['.ts'] = (m, file) => {
  const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), { fileName: file, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2021, esModuleInterop: true } });
  m._compile(out.outputText, file);
};
const { RunStore } = require(process.env.STORE_MODULE);
const store = RunStore.open(process.env.DATA_DIR);
let id = process.env.RUN_ID;
if (!id) {
  id = store.createRun({ red: { redVersion: '9' }, options: {} }).id;
  store.setState(id, 'preparing');
  store.setState(id, 'running');
}
fs.writeSync(1, 'run ' + id + '\\n');
for (let i = 0; ; i++) {
  let seq;
  if (i % 5 === 4) seq = store.appendEvent(id, { type: 'info', message: 'event ' + i });
  else seq = store.appendLog(id, i % 2, 'stdout', 'pid ' + process.pid + ' line ' + i + ' ' + 'y'.repeat(i % 200) + '\\n').seq;
  fs.writeSync(1, seq + '\\n');
}
`;

function runAndKill(dataDir: string, runId: string | undefined, killAfter: number): Promise<{ runId: string; committed: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD], {
      cwd: repo,
      env: { ...process.env, STORE_MODULE: storeModule, DATA_DIR: dataDir, RUN_ID: runId ?? '' },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', d => {
      out += d;
      if (!killed && (out.match(/\n/g)?.length ?? 0) > killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', d => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child ended with ${code}/${signal}: ${err}`));
      const lines = out.split('\n');
      lines.pop(); // a line cut by the kill is not a promise of anything
      const id = lines.shift()!.replace(/^run /, '');
      resolve({ runId: id, committed: lines.map(Number) });
    });
  });
}

describe('crash safety', () => {
  test('after SIGKILL mid-write, every committed event is there, seqs and log offsets are contiguous, files match', async () => {
    store.close();
    const dir = path.join(tmp, 'crash');
    let runId: string | undefined;
    for (let round = 0; round < 3; round++) {
      const res = await runAndKill(dir, runId, 1500 + round * 700);
      runId = res.runId;
      expect(res.committed.length).toBeGreaterThan(1000);

      store = RunStore.open(dir);
      const db = new Database(store.dbPath, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
      const run = store.getRun(runId)!;
      expect(run.state).toBe('running');
      expect(store.unfinishedRuns().map(r => r.id)).toEqual([runId]);
      const events = store.eventsSince(runId, 0, 1_000_000);
      expect(seqs(events)).toEqual(range(1, events.length));
      // Every seq the child saw returned is there (one more may have committed before the kill).
      expect(events.length).toBeGreaterThanOrEqual(Math.max(...res.committed));
      expect(events.length - Math.max(...res.committed)).toBeLessThanOrEqual(1);

      for (const batch of [0, 1]) {
        const logs = events.filter(e => e.event.type === 'log' && (e.event as StoredLogEvent).batch === batch).map(e => e.event as StoredLogEvent);
        let end = 0;
        for (const l of logs) {
          expect(l.offset).toBe(end);
          end += l.length;
        }
        expect(run.batches).toEqual([]);
        expect(store.readLog(runId, { batch, stream: 'stdout', maxBytes: 1 << 30 }).size).toBe(end);
        // Bytes past the committed end (written before the kill, never committed) were trimmed.
        expect(fs.statSync(store.logPath(runId, batch, 'stdout')).size).toBe(end);
        const withData = store.logEventsData(runId, events.filter(e => e.event.type === 'log' && (e.event as StoredLogEvent).batch === batch));
        for (const e of withData) expect((e.event as StoredLogEvent).data).toMatch(/^pid \d+ line \d+ y*\n$/);
      }
      store.close();
    }
    store = RunStore.open(dir);
    store.setState(runId!, 'failed', { error: 'the bridge restarted' });
    expect(store.unfinishedRuns()).toEqual([]);
  }, 60_000);
});

describe('session executions', () => {
  test('a cell that printed more than the store keeps is stored cut in the middle, says how much was left out, and keeps the hashes of all of it', () => {
    const db = new SessionDb(store.dbPath, store.secrets);
    try {
      const sessionId = newRunId();
      db.insertSession({ id: sessionId, notebookPath: 'nb.ipynb', profile: 'default', engine: 'docker', spec: { image: { ref: 'img' }, gpus: [], envNames: [] }, state: 'idle', lastSeq: 0 });
      const big = 'x'.repeat(STORED_STREAM_CHARS + 1000);
      const record: ExecutionRecord = {
        id: newRunId(),
        sessionId,
        notebookPath: 'nb.ipynb',
        code: 'print(...)',
        state: 'queued',
        outputs: [],
        outputHashes: [],
        image: { ref: 'img' },
        gpus: [],
        queuedAt: new Date().toISOString()
      };
      db.insertExecution(record);
      const outputs: NotebookOutput[] = [
        { output_type: 'stream', name: 'stdout', text: big },
        { output_type: 'stream', name: 'stderr', text: 'warning\n' }
      ];
      db.updateExecution({ ...record, state: 'ok', outputs, outputHashes: ['a', 'b'], finishedAt: new Date().toISOString() });
      const back = db.getExecution(sessionId, record.id)!;
      expect(back.outputHashes).toEqual(['a', 'b']);
      expect(back.outputs[1]).toEqual(outputs[1]);
      const text = back.outputs[0].text as string;
      expect(text.length).toBeLessThan(STORED_STREAM_CHARS + 200);
      expect(back.outputsLeftOut).toBe(big.length + 8 - STORED_STREAM_CHARS);
      expect(text).toContain(`[… ${back.outputsLeftOut} characters left out of the stored record`);
      // A small record comes back as it was, without the field.
      db.updateExecution({ ...record, state: 'ok', outputs: [outputs[1]], outputHashes: ['b'] });
      expect(db.getExecution(sessionId, record.id)).not.toHaveProperty('outputsLeftOut');
    } finally {
      db.close();
    }
  });
});
