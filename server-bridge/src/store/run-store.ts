// The bridge's durable record of runs: SQLite (better-sqlite3, WAL) in
// `<dataDir>/redlab.sqlite`, and one folder per run, `<dataDir>/runs/<id>/`, for log
// files and outputs.
//
// What the store holds is what the bridge may show to anyone who can reach it, so it
// must never hold a secret. The store is the bridge's one masking choke point: every
// write (the RED, options, states and errors, batches, results, events, log bytes)
// passes through `secrets`, the registry of the secrets of every run in flight (a run
// hands its masker over with createRun and releaseSecrets drops it). What the API, the
// WebSocket, the SQLite file and the log files get is therefore masked in every form a
// secret can take (see src/red/mask.ts). Log text is masked as a stream: a secret split
// across two chunks is masked too (the end of a chunk that may start one waits for the
// next chunk, or for the batch's final state).
//
// Log bytes never go into SQLite: `appendLog` appends them to
// `runs/<id>/batch-<n>.<stream>.log` and records a small `log` event with the chunk's
// offset and length. A 200 MB log costs 200 MB of files and a few hundred bytes of
// database per chunk.
//
// Durability. Every write is one transaction. The database runs in WAL mode with
// synchronous=NORMAL: a commit is appended to the WAL without an fsync, and the WAL is
// fsynced at checkpoints. That is fully durable against the bridge process crashing or
// being killed (the OS has the bytes), and never corrupts the database; an OS crash or
// power loss may lose the last transactions before the checkpoint but leaves a
// consistent database. synchronous=FULL would fsync every commit (a few ms each on
// ordinary disks), which would cap log appends at a few hundred chunks a second, and
// buy little: log files are not fsynced per chunk either. Pass `{ synchronous: 'FULL' }`
// for a bridge that must survive power loss without losing a single event.
//
// Crash consistency of logs: bytes are written to the file first, and the event and
// the committed length (table log_files) are committed after. A crash in between
// leaves bytes past the committed length; they are never served (reads stop at the
// committed length) and are cut off when the file is next opened for writing and for
// every unfinished run when the store is opened.
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';
import { isForwardTransition, isLegalRunTransition, type RunResult, type RunState } from '../../../src/red/run';
import { SecretRegistry, type MaskingStream } from '../../../src/red/mask';
import { isRunId, newRunId } from './ids';
import { migrate } from './schema';
import {
  ALL_STATES,
  FINAL_STATES,
  IllegalTransitionError,
  RunNotFoundError,
  isFinalState,
  type AppendableEvent,
  type BatchPatch,
  type BatchRecord,
  type CreateRunInput,
  type ListRunsQuery,
  type LogStream,
  type RunImage,
  type RunOptions,
  type RunPage,
  type RunRecord,
  type RunSummary,
  type StateChange,
  type StoreEvent,
  type StoredEvent,
  type StoredLogEvent
} from './types';

export interface OpenOptions {
  /** See the header: NORMAL (default) survives process crashes; FULL also power loss, at an fsync per write. */
  synchronous?: 'NORMAL' | 'FULL';
  /** Clock (epoch ms); tests pass a fake one. */
  now?: () => number;
  /** Called when a subscriber throws (the store goes on). Default: process.emitWarning. */
  onListenerError?: (err: unknown) => void;
  /** The secrets every write is masked with (shared with the bridge's logger); default a new, empty one. */
  secrets?: SecretRegistry;
}

export type EventListener = (event: StoredEvent) => void;
export type AnyEventListener = (event: StoredEvent) => void;
/** A follower's listener also hears of the run's deletion. */
type InternalListener = EventListener & { deleted?: () => void };

export interface ReadLogOptions {
  batch: number;
  stream: LogStream;
  /** Byte offset to start at (default 0). */
  since?: number;
  /** At most this many bytes (default 1 MiB). */
  maxBytes?: number;
}

export interface LogSlice {
  data: Buffer;
  /** Offset of `data[0]` in the log. */
  offset: number;
  /** offset + data.length: pass it as the next `since`. */
  end: number;
  /** Committed length of the log. */
  size: number;
}

export interface FollowOptions {
  /** Fill in `data` of log events (default true). */
  withLogData?: boolean;
  /** Events read from the database at a time while catching up (default 500). */
  pageSize?: number;
  /**
   * Live events held in memory while `send` is busy; past this the buffer is dropped
   * and the follower catches up from the database again (default 5000). Slow consumers
   * thus cost no unbounded memory and still get every event.
   */
  maxBuffered?: number;
  /** Stop after sending the run's final state event (or at once, after catching up, when the run is already final). */
  stopWhenFinal?: boolean;
}

export interface Follower {
  /** Stops following; `done` resolves. */
  stop(): void;
  /** Resolves when stopped (by `stop`, or `stopWhenFinal`), rejects when `send` throws or the run is deleted. */
  done: Promise<void>;
  /** Sequence number of the last event sent. */
  readonly lastSeq: number;
}

const DEFAULT_PAGE = 1000;
const MAX_OPEN_LOG_FILES = 64;

// The lifecycle is src/red/run.ts's: the run's states one step at a time, a batch's may skip forward.
export { isLegalRunTransition };
export const isLegalBatchTransition = isForwardTransition;

/** SQL list of the final states, for queries of unfinished runs. */
const FINAL_SQL = FINAL_STATES.map(s => `'${s}'`).join(', ');

interface RunRow {
  id: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  state: RunState;
  red?: string;
  options: string;
  image: string | null;
  result?: string | null;
  error: string | null;
  wall_clock_limit_ms: number | null;
  batch_count: number;
  last_seq: number;
}

interface BatchRow {
  idx: number;
  state: RunState;
  container_id: string | null;
  exit_code: number | null;
  command: string | null;
  timings: string | null;
  outputs: string | null;
  error: string | null;
  updated_at: number;
}

interface EventRow {
  seq: number;
  at: number;
  payload: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(s: string | null | undefined): T | undefined => (s == null ? undefined : (JSON.parse(s) as T));

function checkBatch(batch: number): void {
  if (!Number.isSafeInteger(batch) || batch < 0) throw new TypeError(`batch must be a whole number >= 0, not ${batch}`);
}
function checkStream(stream: string): asserts stream is LogStream {
  if (stream !== 'stdout' && stream !== 'stderr') throw new TypeError(`stream must be stdout or stderr, not ${stream}`);
}
function checkState(state: string): asserts state is RunState {
  if (!ALL_STATES.includes(state as RunState)) throw new TypeError(`unknown run state ${state}`);
}

const SUMMARY_COLUMNS = `id, created_at, updated_at, finished_at, state, options, image, error, wall_clock_limit_ms,
  (SELECT COUNT(*) FROM batches b WHERE b.run_id = runs.id) AS batch_count,
  (SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.run_id = runs.id) AS last_seq`;

export class RunStore {
  /** `<dataDir>/redlab.sqlite`. */
  readonly dbPath: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly onListenerError: (err: unknown) => void;
  private readonly listeners = new Map<string, Set<EventListener>>();
  private readonly anyListeners = new Set<AnyEventListener>();
  /** Told the id of each run deleted (a deletion is no event: the run's events go with it). */
  private readonly deletionListeners = new Set<(runId: string) => void>();
  /** Open log files for writing, least recently used first. */
  private readonly logFds = new Map<string, number>();
  private readonly followers = new Set<() => void>();
  /** Log streams being masked, by `<runId>/<batch>/<stream>`: they may hold back a chunk's end. */
  private readonly logMasks = new Map<string, MaskingStream>();
  /** The secrets of the runs in flight: every write is masked with all of them. */
  readonly secrets: SecretRegistry;
  private closed = false;
  private readonly st: ReturnType<RunStore['prepare']>;

  /**
   * Opens (creating when needed) the store in `dataDir`, migrates its schema, and trims
   * log bytes that a crash left past their committed length.
   */
  static open(dataDir: string, options: OpenOptions = {}): RunStore {
    fs.mkdirSync(path.join(dataDir, 'runs'), { recursive: true, mode: 0o700 });
    return new RunStore(path.resolve(dataDir), options);
  }

  private constructor(readonly dataDir: string, options: OpenOptions) {
    this.dbPath = path.join(dataDir, 'redlab.sqlite');
    this.now = options.now ?? Date.now;
    this.onListenerError = options.onListenerError ?? (err => process.emitWarning(`run store listener failed: ${String(err)}`));
    this.secrets = options.secrets ?? new SecretRegistry();
    const db = new Database(this.dbPath);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.st = this.prepare();
    this.trimUncommittedLogs();
  }

  private prepare() {
    const db = this.db;
    return {
      insertRun: db.prepare(
        `INSERT INTO runs (id, created_at, updated_at, state, red, options, image, wall_clock_limit_ms)
         VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)`
      ),
      runState: db.prepare<[string], { state: RunState }>('SELECT state FROM runs WHERE id = ?'),
      summary: db.prepare<[string], RunRow>(`SELECT ${SUMMARY_COLUMNS} FROM runs WHERE id = ?`),
      full: db.prepare<[string], RunRow>(`SELECT ${SUMMARY_COLUMNS}, red, result FROM runs WHERE id = ?`),
      setRunState: db.prepare(
        `UPDATE runs SET state = ?, updated_at = ?, error = COALESCE(?, error),
                finished_at = CASE WHEN ? THEN ? ELSE finished_at END
         WHERE id = ?`
      ),
      setResult: db.prepare('UPDATE runs SET result = ?, updated_at = ? WHERE id = ?'),
      setImage: db.prepare('UPDATE runs SET image = ?, updated_at = ? WHERE id = ?'),
      touchRun: db.prepare('UPDATE runs SET updated_at = ? WHERE id = ?'),
      deleteRun: db.prepare('DELETE FROM runs WHERE id = ?'),
      batch: db.prepare<[string, number], BatchRow>('SELECT * FROM batches WHERE run_id = ? AND idx = ?'),
      batches: db.prepare<[string], BatchRow>('SELECT * FROM batches WHERE run_id = ? ORDER BY idx'),
      insertBatch: db.prepare(`INSERT INTO batches (run_id, idx, state, updated_at) VALUES (?, ?, 'queued', ?)`),
      updateBatch: db.prepare(
        `UPDATE batches SET state = ?, container_id = ?, exit_code = ?, command = ?, timings = ?, outputs = ?, error = ?, updated_at = ?
         WHERE run_id = ? AND idx = ?`
      ),
      insertHistory: db.prepare('INSERT INTO state_history (run_id, batch, state, at, error) VALUES (?, ?, ?, ?, ?)'),
      history: db.prepare<[string], { batch: number | null; state: RunState; at: number; error: string | null }>(
        'SELECT batch, state, at, error FROM state_history WHERE run_id = ? ORDER BY id'
      ),
      lastSeq: db.prepare<[string], number>('SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?').pluck(),
      insertEvent: db.prepare('INSERT INTO events (run_id, seq, at, type, payload) VALUES (?, ?, ?, ?, ?)'),
      eventsSince: db.prepare<[string, number, number], EventRow>(
        'SELECT seq, at, payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?'
      ),
      logBytes: db.prepare<[string, number, string], number>('SELECT bytes FROM log_files WHERE run_id = ? AND batch = ? AND stream = ?').pluck(),
      runLogBytes: db.prepare<[string], { batch: number; stream: LogStream; bytes: number }>(
        'SELECT batch, stream, bytes FROM log_files WHERE run_id = ?'
      ),
      setLogBytes: db.prepare(
        `INSERT INTO log_files (run_id, batch, stream, bytes) VALUES (?, ?, ?, ?)
         ON CONFLICT (run_id, batch, stream) DO UPDATE SET bytes = excluded.bytes`
      ),
      unfinishedLogs: db.prepare<[], { run_id: string; batch: number; stream: LogStream; bytes: number }>(
        `SELECT l.run_id, l.batch, l.stream, l.bytes FROM log_files l JOIN runs r ON r.id = l.run_id
         WHERE r.state NOT IN (${FINAL_SQL})`
      ),
      unfinished: db.prepare<[], RunRow>(
        `SELECT ${SUMMARY_COLUMNS} FROM runs WHERE state NOT IN (${FINAL_SQL}) ORDER BY id`
      )
    };
  }

  // ---------------------------------------------------------------- paths

  /** `<dataDir>/runs/<id>`: the run's log files, and where the bridge may put its outputs. */
  runDir(runId: string): string {
    if (!isRunId(runId)) throw new RunNotFoundError(String(runId));
    return path.join(this.dataDir, 'runs', runId);
  }

  /**
   * The log file of a batch's stream, for streaming downloads. Only its first
   * `readLog(...).size` bytes are committed: serve no more than that.
   */
  logPath(runId: string, batch: number, stream: LogStream): string {
    checkBatch(batch);
    checkStream(stream);
    return path.join(this.runDir(runId), `batch-${batch}.${stream}.log`);
  }

  // ---------------------------------------------------------------- runs

  /** Records a new run in state `queued` (with its history row and state event) and makes its folder. */
  createRun(input: CreateRunInput): RunRecord {
    const id = newRunId(this.now());
    const at = this.now();
    const limit = input.wallClockLimitMs;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) {
      throw new TypeError(`wallClockLimitMs must be a positive whole number of milliseconds, not ${limit}`);
    }
    fs.mkdirSync(this.runDir(id), { recursive: true, mode: 0o700 });
    if (input.secrets) this.secrets.hold(id, input.secrets);
    const m = this.secrets;
    let event: StoredEvent | undefined;
    this.db.transaction(() => {
      this.st.insertRun.run(id, at, at, JSON.stringify(m.maskValue(input.red ?? null)), JSON.stringify(m.maskValue(input.options ?? {})), json(m.maskValue(input.image)), limit ?? null);
      this.st.insertHistory.run(id, null, 'queued', at, null);
      event = this.insertEvent(id, at, { type: 'state', state: 'queued' });
    }).immediate();
    this.notify(event!);
    return this.getRun(id)!;
  }

  /** The whole record (RED, result, batches, history), or undefined. */
  getRun(runId: string): RunRecord | undefined {
    const row = this.st.full.get(runId);
    if (!row) return undefined;
    return {
      ...this.toSummary(row),
      red: parse<unknown>(row.red),
      result: parse<RunResult>(row.result),
      batches: this.batchRecords(runId),
      history: this.st.history.all(runId).map(h => {
        const c: StateChange = { batch: h.batch, state: h.state, at: iso(h.at) };
        if (h.error != null) c.error = h.error;
        return c;
      }),
      dir: this.runDir(runId)
    };
  }

  /** The run without RED, batches and history, or undefined. */
  getSummary(runId: string): RunSummary | undefined {
    const row = this.st.summary.get(runId);
    return row ? this.toSummary(row) : undefined;
  }

  /** Newest first, `limit` at a time; pass `nextCursor` back as `cursor` for the next page. */
  listRuns(query: ListRunsQuery = {}): RunPage {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 1000);
    const states = query.state === undefined ? [] : Array.isArray(query.state) ? query.state : [query.state];
    states.forEach(checkState);
    const where: string[] = [];
    const params: unknown[] = [];
    if (states.length) {
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      params.push(...states);
    }
    if (query.cursor !== undefined) {
      where.push('id < ?');
      params.push(query.cursor);
    }
    const rows = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`)
      .all(...params, limit + 1) as RunRow[];
    const more = rows.length > limit;
    const runs = rows.slice(0, limit).map(r => this.toSummary(r));
    return more ? { runs, nextCursor: runs[runs.length - 1].id } : { runs };
  }

  /** Runs not in a final state, oldest first: after a crash, the bridge decides what became of each. */
  unfinishedRuns(): RunSummary[] {
    return this.st.unfinished.all().map(r => this.toSummary(r));
  }

  /**
   * Moves the run (or, with `batch`, one of its batches) to `state`, with a history row
   * and a `state` event, in one transaction. `error` is kept on the run (or batch).
   * Throws IllegalTransitionError for a move the state machine does not allow (see
   * isLegalRunTransition / isLegalBatchTransition). Returns the event's seq.
   */
  setState(runId: string, state: RunState, opts: { batch?: number; error?: string } = {}): number {
    checkState(state);
    if (opts.error !== undefined) opts = { ...opts, error: this.secrets.mask(opts.error) };
    // The held-back end of the logs comes before the final state.
    if (isFinalState(state)) this.flushLogMasks(runId, opts.batch);
    if (opts.batch !== undefined) return this.setBatch(runId, opts.batch, { state, ...(opts.error !== undefined ? { error: opts.error } : {}) });
    let event: StoredEvent | undefined;
    this.db.transaction(() => {
      const from = this.stateOf(runId);
      if (!isLegalRunTransition(from, state)) throw new IllegalTransitionError(from, state, `run ${runId}`);
      const at = this.now();
      const final = isFinalState(state);
      this.st.setRunState.run(state, at, opts.error ?? null, final ? 1 : 0, at, runId);
      this.st.insertHistory.run(runId, null, state, at, opts.error ?? null);
      event = this.insertEvent(runId, at, { type: 'state', state, ...(opts.error !== undefined ? { error: opts.error } : {}) });
    }).immediate();
    if (isFinalState(state)) this.closeLogFiles(runId);
    this.notify(event!);
    return event!.seq;
  }

  /**
   * Creates or updates batch `index` (a new batch starts `queued`). A `state` in the
   * patch is a state change, as setState with `batch` (validated, with history and
   * event); the returned seq is that event's, or 0 when there was none.
   */
  setBatch(runId: string, index: number, patch: BatchPatch): number {
    checkBatch(index);
    if (patch.state !== undefined) checkState(patch.state);
    if (patch.state !== undefined && isFinalState(patch.state)) this.flushLogMasks(runId, index);
    patch = this.secrets.maskValue(patch);
    let event: StoredEvent | undefined;
    this.db.transaction(() => {
      event = this.applyBatchPatch(runId, index, patch, this.now());
    }).immediate();
    if (event) this.notify(event);
    return event?.seq ?? 0;
  }

  /** Records the image the run uses (resolved, pulled or built). */
  setImage(runId: string, image: RunImage): void {
    this.db.transaction(() => {
      this.stateOf(runId);
      this.st.setImage.run(JSON.stringify(this.secrets.maskValue(image)), this.now(), runId);
    }).immediate();
  }

  /**
   * Stores the run's result (masked here, as every write) and copies each BatchResult into its
   * batch (container, exit code, command, timings, outputs, error; a batch not yet in
   * a final state moves to the result's). Writes a `result` event. The run's own state
   * is left alone: the caller sets it next (collecting → succeeded, or → failed).
   */
  setResult(runId: string, result: RunResult): number {
    this.flushLogMasks(runId);
    result = this.secrets.maskValue(result);
    const events: StoredEvent[] = [];
    this.db.transaction(() => {
      this.stateOf(runId);
      const at = this.now();
      this.st.setResult.run(JSON.stringify(result), at, runId);
      for (const b of result.batches ?? []) {
        const current = this.st.batch.get(runId, b.index);
        const patch: BatchPatch = {
          command: b.command,
          timings: b.timings,
          outputs: b.outputs,
          ...(b.exitCode !== undefined ? { exitCode: b.exitCode } : {}),
          ...(b.containerId !== undefined ? { containerId: b.containerId } : {}),
          ...(b.error !== undefined ? { error: b.error } : {})
        };
        if (!current || !isFinalState(current.state)) patch.state = b.state;
        const e = this.applyBatchPatch(runId, b.index, patch, at);
        if (e) events.push(e);
      }
      events.push(this.insertEvent(runId, at, { type: 'result', state: result.state }));
    }).immediate();
    for (const e of events) this.notify(e);
    return events[events.length - 1].seq;
  }

  /**
   * Deletes a finished run's records. With `purge`, its folder (logs, outputs) goes too;
   * without, the files stay on disk. A run that is not final cannot be deleted: cancel
   * it first. Returns false when there was no such run.
   */
  deleteRun(runId: string, opts: { purge?: boolean } = {}): boolean {
    const row = this.st.runState.get(runId);
    if (!row) return false;
    if (!isFinalState(row.state)) throw new Error(`run ${runId} is ${row.state}: cancel it before deleting it`);
    this.closeLogFiles(runId);
    for (const key of [...this.logMasks.keys()]) if (key.startsWith(runId + '/')) this.logMasks.delete(key);
    this.secrets.release(runId);
    this.st.deleteRun.run(runId);
    if (opts.purge) fs.rmSync(this.runDir(runId), { recursive: true, force: true });
    for (const l of [...(this.listeners.get(runId) ?? [])]) this.safeCall(() => (l as InternalListener).deleted?.());
    for (const l of [...this.deletionListeners]) this.safeCall(() => l(runId));
    return true;
  }

  // ---------------------------------------------------------------- events and logs

  /**
   * Appends an event to the run's timeline and returns its seq. A `log` event (with
   * `data`) is stored as appendLog stores it. `state` and `result` events are refused:
   * they come from setState/setBatch/setResult. Events (and logs) are accepted after
   * the run reached a final state too: late log lines are not lost.
   */
  appendEvent(runId: string, event: AppendableEvent): number {
    if (!event || typeof event !== 'object' || typeof (event as { type?: unknown }).type !== 'string') {
      throw new TypeError('an event is an object with a string `type`');
    }
    const type = (event as { type: string }).type;
    if (type === 'log') {
      const e = event as { batch: number; stream: LogStream; data: string };
      return this.appendLog(runId, e.batch, e.stream, e.data).seq;
    }
    if (type === 'state' || type === 'result') throw new TypeError(`${type} events are written by setState/setBatch/setResult`);
    const masked = this.secrets.maskValue(event as StoreEvent);
    let stored: StoredEvent | undefined;
    this.db.transaction(() => {
      this.stateOf(runId);
      stored = this.insertEvent(runId, this.now(), masked);
    }).immediate();
    this.notify(stored!);
    return stored!.seq;
  }

  /**
   * Appends `data` to `<dir>/batch-<batch>.<stream>.log` and records a `log` event
   * { batch, stream, offset, length }. Returns the event's seq and the chunk's offset.
   * Empty data records nothing (seq 0).
   */
  appendLog(runId: string, batch: number, stream: LogStream, data: string | Buffer): { seq: number; offset: number } {
    checkBatch(batch);
    checkStream(stream);
    if (typeof data !== 'string' && !Buffer.isBuffer(data)) throw new TypeError('log data is a string or a Buffer');
    const key = `${runId}/${batch}/${stream}`;
    let masking = this.logMasks.get(key);
    if (!masking && this.secrets.has(runId)) this.logMasks.set(key, (masking = this.secrets.stream()));
    if (masking) data = masking.write(typeof data === 'string' ? data : data.toString('utf8'));
    else if (typeof data === 'string') data = this.secrets.mask(data);
    return this.writeLog(runId, batch, stream, data);
  }

  /** Writes what held-back log ends the run's (or one batch's) masking streams hold, and forgets those streams. */
  private flushLogMasks(runId: string, batch?: number): void {
    for (const [key, masking] of this.logMasks) {
      const [id, b, stream] = key.split('/');
      if (id !== runId || (batch !== undefined && Number(b) !== batch)) continue;
      this.logMasks.delete(key);
      const rest = masking.end();
      if (rest && this.st.runState.get(runId)) this.writeLog(runId, Number(b), stream as LogStream, rest);
    }
  }

  /**
   * Forgets a run's secrets (after it ended: what it still writes is masked with the
   * other runs' secrets only). Held-back log ends are written first.
   */
  releaseSecrets(runId: string): void {
    this.flushLogMasks(runId);
    this.secrets.release(runId);
  }

  private writeLog(runId: string, batch: number, stream: LogStream, data: string | Buffer): { seq: number; offset: number } {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let stored: StoredEvent | undefined;
    let offset = 0;
    this.db.transaction(() => {
      this.stateOf(runId);
      offset = this.st.logBytes.get(runId, batch, stream) ?? 0;
      if (bytes.length === 0) return;
      // File first, then the commit: a crash in between leaves only uncommitted bytes
      // past the committed length, which are never served and are trimmed later.
      const fd = this.logFd(runId, batch, stream, offset);
      let written = 0;
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written, offset + written);
      this.st.setLogBytes.run(runId, batch, stream, offset + bytes.length);
      const e: StoredLogEvent = { type: 'log', batch, stream, offset, length: bytes.length };
      stored = this.insertEvent(runId, this.now(), e);
    }).immediate();
    if (!stored) return { seq: 0, offset };
    if (this.hasListeners(runId)) {
      (stored.event as StoredLogEvent).data = typeof data === 'string' ? data : bytes.toString('utf8');
      this.notify(stored);
    }
    return { seq: stored.seq, offset };
  }

  /**
   * Events with seq > sinceSeq, in order, at most `limit` (default 1000). Log events
   * carry offsets only: pass them through logEventsData for their bytes.
   */
  eventsSince(runId: string, sinceSeq = 0, limit = DEFAULT_PAGE): StoredEvent[] {
    const n = Math.min(Math.max(Math.trunc(limit), 1), 100_000);
    return this.st.eventsSince.all(runId, Math.trunc(sinceSeq), n).map(r => ({
      runId,
      seq: r.seq,
      at: iso(r.at),
      event: JSON.parse(r.payload) as StoreEvent
    }));
  }

  /** Copies of `events` with the `data` (UTF-8) of each log event read from its file. */
  logEventsData(runId: string, events: readonly StoredEvent[]): StoredEvent[] {
    const fds = new Map<string, number | null>();
    try {
      return events.map(e => {
        if (e.event.type !== 'log' || (e.event as StoredLogEvent).data !== undefined) return e;
        const le = e.event as StoredLogEvent;
        const file = this.logPath(runId, le.batch, le.stream);
        let fd = fds.get(file);
        if (fd === undefined) {
          try {
            fd = fs.openSync(file, 'r');
          } catch {
            fd = null;
          }
          fds.set(file, fd);
        }
        const buf = Buffer.alloc(le.length);
        const n = fd === null ? 0 : readFully(fd, buf, le.offset);
        return { ...e, event: { ...le, data: buf.subarray(0, n).toString('utf8') } };
      });
    } finally {
      for (const fd of fds.values()) if (fd !== null) fs.closeSync(fd);
    }
  }

  /** Committed bytes of a log from `since`, at most `maxBytes`. */
  readLog(runId: string, opts: ReadLogOptions): LogSlice {
    checkBatch(opts.batch);
    checkStream(opts.stream);
    this.stateOf(runId);
    const size = this.st.logBytes.get(runId, opts.batch, opts.stream) ?? 0;
    const since = Math.min(Math.max(Math.trunc(opts.since ?? 0), 0), size);
    const want = Math.min(size - since, Math.max(Math.trunc(opts.maxBytes ?? 1 << 20), 0));
    if (want === 0) return { data: Buffer.alloc(0), offset: since, end: since, size };
    const buf = Buffer.alloc(want);
    let n = 0;
    try {
      const fd = fs.openSync(this.logPath(runId, opts.batch, opts.stream), 'r');
      try {
        n = readFully(fd, buf, since);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return { data: buf.subarray(0, n), offset: since, end: since + n, size };
  }

  // ---------------------------------------------------------------- live events

  /**
   * Calls `listener` with each event of `runId` once it is committed (log events with
   * their `data`), synchronously, in seq order. Returns the function that unsubscribes.
   *
   * To send a client "everything after `since`, then live, no gap, no duplicate", use
   * `follow`, or do what it does:
   *   1. subscribe first, buffering what arrives;
   *   2. replay from the database: eventsSince(runId, last) page by page (through
   *      logEventsData), sending each and setting last = its seq, until a page is empty;
   *   3. send the buffered events, skipping any with seq <= last, then send live ones
   *      as they come, again skipping seq <= last.
   * Subscribing before reading means an event committed during the replay is in the
   * buffer; skipping seq <= last drops the ones the replay already sent.
   */
  subscribe(runId: string, listener: EventListener): () => void {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      const s = this.listeners.get(runId);
      if (!s) return;
      s.delete(listener);
      if (!s.size) this.listeners.delete(runId);
    };
  }

  /** Every committed event of every run (run lists, dashboards). Log events come without `data`. */
  subscribeAll(listener: AnyEventListener): () => void {
    this.anyListeners.add(listener);
    return () => void this.anyListeners.delete(listener);
  }

  /** Calls `listener` with the id of every run deleted (deleteRun), after its records are gone. */
  subscribeDeletions(listener: (runId: string) => void): () => void {
    this.deletionListeners.add(listener);
    return () => void this.deletionListeners.delete(listener);
  }

  /**
   * Sends every event of `runId` after `sinceSeq`, then each new one, exactly once and
   * in seq order, awaiting `send` (so a slow WebSocket slows the replay, not the run).
   */
  follow(runId: string, sinceSeq: number, send: (e: StoredEvent) => void | Promise<void>, opts: FollowOptions = {}): Follower {
    const withData = opts.withLogData !== false;
    const pageSize = opts.pageSize ?? 500;
    const maxBuffered = opts.maxBuffered ?? 5000;
    let last = Math.max(0, Math.trunc(sinceSeq));
    let buffer: StoredEvent[] = [];
    let catchingUp = true;
    let stopped = false;
    let wake: (() => void) | undefined;
    let failed: unknown;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const listener: InternalListener = e => {
      if (buffer.length >= maxBuffered) {
        // Too far behind: drop the buffer and catch up from the database instead.
        buffer = [];
        catchingUp = true;
      } else {
        buffer.push(withData ? e : stripData(e));
      }
      poke();
    };
    listener.deleted = () => {
      failed = new RunNotFoundError(runId);
      stopped = true;
      poke();
    };
    const unsubscribe = this.subscribe(runId, listener);
    const isFinalEvent = (e: StoredEvent) => e.event.type === 'state' && (e.event as { batch?: number }).batch === undefined && isFinalState((e.event as { state: RunState }).state);

    // Catching up: read pages from the database until one is empty. Live: send buffered
    // events in order, skipping seq <= last. With stopWhenFinal, a final state event
    // sends the follower back to catching up once more (events committed after it, e.g.
    // late log lines, are sent too), and the empty page then ends it.
    const pump = async (): Promise<void> => {
      while (!stopped) {
        if (catchingUp) {
          if (this.closed) break;
          const page = this.eventsSince(runId, last, pageSize);
          if (!page.length) {
            catchingUp = false;
            const state = this.st.runState.get(runId)?.state;
            if (state === undefined) throw new RunNotFoundError(runId);
            if (opts.stopWhenFinal && isFinalState(state)) break;
            continue;
          }
          for (const e of withData ? this.logEventsData(runId, page) : page) {
            if (stopped) break;
            await send(e);
            last = e.seq;
          }
          continue;
        }
        const e = buffer.shift();
        if (!e) {
          await new Promise<void>(resolve => (wake = resolve));
          continue;
        }
        if (e.seq <= last) continue;
        if (e.seq !== last + 1) {
          // Cannot happen with the buffer intact; should it, the database has the truth.
          buffer = [];
          catchingUp = true;
          continue;
        }
        await send(e);
        last = e.seq;
        if (opts.stopWhenFinal && isFinalEvent(e)) catchingUp = true;
      }
      if (failed) throw failed;
    };
    const stop = () => {
      stopped = true;
      poke();
    };
    this.followers.add(stop);
    const done = pump().finally(() => {
      stopped = true;
      unsubscribe();
      this.followers.delete(stop);
    });
    return {
      stop,
      done,
      get lastSeq() {
        return last;
      }
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Closes log files and the database (which checkpoints the WAL). Idempotent. */
  close(): void {
    if (this.closed) return;
    for (const runId of new Set([...this.logMasks.keys()].map(k => k.split('/')[0]))) this.flushLogMasks(runId);
    this.closed = true;
    for (const stop of [...this.followers]) stop();
    for (const fd of this.logFds.values()) fs.closeSync(fd);
    this.logFds.clear();
    this.listeners.clear();
    this.anyListeners.clear();
    this.deletionListeners.clear();
    this.db.close();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  // ---------------------------------------------------------------- internals

  private stateOf(runId: string): RunState {
    const row = this.st.runState.get(runId);
    if (!row) throw new RunNotFoundError(runId);
    return row.state;
  }

  /** Inside a transaction: the next seq, the row, the StoredEvent. */
  private insertEvent(runId: string, at: number, event: StoreEvent): StoredEvent {
    const seq = this.st.lastSeq.get(runId)! + 1;
    this.st.insertEvent.run(runId, seq, at, event.type, JSON.stringify(event));
    return { runId, seq, at: iso(at), event };
  }

  /** Inside a transaction. */
  private applyBatchPatch(runId: string, index: number, patch: BatchPatch, at: number): StoredEvent | undefined {
    this.stateOf(runId);
    let row = this.st.batch.get(runId, index);
    if (!row) {
      this.st.insertBatch.run(runId, index, at);
      row = this.st.batch.get(runId, index)!;
    }
    let event: StoredEvent | undefined;
    const state = patch.state ?? row.state;
    if (patch.state !== undefined) {
      if (!isLegalBatchTransition(row.state, patch.state)) throw new IllegalTransitionError(row.state, patch.state, `run ${runId} batch ${index}`);
      this.st.insertHistory.run(runId, index, patch.state, at, patch.error ?? null);
      event = this.insertEvent(runId, at, {
        type: 'state',
        state: patch.state,
        batch: index,
        ...(patch.error !== undefined ? { error: patch.error } : {})
      });
    }
    const pick = <K extends keyof BatchPatch>(k: K, col: string | number | null, toCol: (v: NonNullable<BatchPatch[K]>) => string | number) =>
      patch[k] === undefined || patch[k] === null ? col : toCol(patch[k] as NonNullable<BatchPatch[K]>);
    this.st.updateBatch.run(
      state,
      pick('containerId', row.container_id, v => v),
      pick('exitCode', row.exit_code, v => v),
      pick('command', row.command, v => JSON.stringify(v)),
      pick('timings', row.timings, v => JSON.stringify(v)),
      pick('outputs', row.outputs, v => JSON.stringify(v)),
      pick('error', row.error, v => v),
      at,
      runId,
      index
    );
    this.st.touchRun.run(at, runId);
    return event;
  }

  private batchRecords(runId: string): BatchRecord[] {
    const logs = this.st.runLogBytes.all(runId);
    return this.st.batches.all(runId).map(b => {
      const r: BatchRecord = {
        index: b.idx,
        state: b.state,
        updatedAt: iso(b.updated_at),
        logBytes: {
          stdout: logs.find(l => l.batch === b.idx && l.stream === 'stdout')?.bytes ?? 0,
          stderr: logs.find(l => l.batch === b.idx && l.stream === 'stderr')?.bytes ?? 0
        }
      };
      if (b.container_id != null) r.containerId = b.container_id;
      if (b.exit_code != null) r.exitCode = b.exit_code;
      if (b.command != null) r.command = JSON.parse(b.command);
      if (b.timings != null) r.timings = JSON.parse(b.timings);
      if (b.outputs != null) r.outputs = JSON.parse(b.outputs);
      if (b.error != null) r.error = b.error;
      return r;
    });
  }

  private toSummary(row: RunRow): RunSummary {
    const s: RunSummary = {
      id: row.id,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      state: row.state,
      options: (parse<RunOptions>(row.options) ?? {}) as RunOptions,
      batchCount: row.batch_count,
      lastSeq: row.last_seq
    };
    if (row.finished_at != null) s.finishedAt = iso(row.finished_at);
    if (row.image != null) s.image = JSON.parse(row.image);
    if (row.error != null) s.error = row.error;
    if (row.wall_clock_limit_ms != null) s.wallClockLimitMs = row.wall_clock_limit_ms;
    return s;
  }

  /** An fd for positional writes; a newly opened file is cut to its committed length. */
  private logFd(runId: string, batch: number, stream: LogStream, committed: number): number {
    const key = `${runId}/${batch}/${stream}`;
    let fd = this.logFds.get(key);
    if (fd !== undefined) {
      this.logFds.delete(key); // re-insert: most recently used last
      this.logFds.set(key, fd);
      return fd;
    }
    const file = this.logPath(runId, batch, stream);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
    if (fs.fstatSync(fd).size > committed) fs.ftruncateSync(fd, committed);
    this.logFds.set(key, fd);
    if (this.logFds.size > MAX_OPEN_LOG_FILES) {
      const [oldKey, oldFd] = this.logFds.entries().next().value as [string, number];
      this.logFds.delete(oldKey);
      fs.closeSync(oldFd);
    }
    return fd;
  }

  private closeLogFiles(runId: string): void {
    for (const [key, fd] of this.logFds) {
      if (key.startsWith(runId + '/')) {
        fs.closeSync(fd);
        this.logFds.delete(key);
      }
    }
  }

  /** Cuts log files of unfinished runs back to their committed length (bytes a crash left behind). */
  private trimUncommittedLogs(): void {
    for (const l of this.st.unfinishedLogs.all()) {
      const file = this.logPath(l.run_id, l.batch, l.stream);
      try {
        if (fs.statSync(file).size > l.bytes) fs.truncateSync(file, l.bytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  private hasListeners(runId: string): boolean {
    return this.anyListeners.size > 0 || (this.listeners.get(runId)?.size ?? 0) > 0;
  }

  private notify(e: StoredEvent): void {
    const set = this.listeners.get(e.runId);
    if (set) for (const l of [...set]) this.safeCall(() => l(e));
    if (this.anyListeners.size) {
      const plain = stripData(e);
      for (const l of [...this.anyListeners]) this.safeCall(() => l(plain));
    }
  }

  private safeCall(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.onListenerError(err);
    }
  }
}

function stripData(e: StoredEvent): StoredEvent {
  if (e.event.type !== 'log' || (e.event as StoredLogEvent).data === undefined) return e;
  const { data: _data, ...rest } = e.event as StoredLogEvent;
  return { ...e, event: rest };
}

function readFully(fd: number, buf: Buffer, position: number): number {
  let n = 0;
  while (n < buf.length) {
    const r = fs.readSync(fd, buf, n, buf.length - n, position + n);
    if (r === 0) break;
    n += r;
  }
  return n;
}
