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
//
// RunStore is the one public class; it composes the parts, each in its own file:
// run-db.ts (the SQL: statements, rows ↔ records), log-files.ts (the log files),
// log-masking.ts (log text masked as a stream), event-hub.ts (listeners), follow.ts
// (replay then live), transitions.ts (the lifecycle rules the store enforces, from
// src/red/run.ts). The order of each write (mask, file, commit, notify) is decided here.
import * as fs from 'fs';
import * as path from 'path';
import { type RunResult, type RunState, SecretRegistry } from '../../../src/red';
import { EventHub, type AnyEventListener, type EventListener } from './event-hub';
import { follow, type FollowOptions, type FollowSource, type Follower } from './follow';
import { newRunId } from './ids';
import { LogFiles, checkBatch, checkStream, type LogSlice, type ReadLogOptions } from './log-files';
import { LogMasking } from './log-masking';
import { RunDb } from './run-db';
import { assertBatchTransition, assertRunTransition, batchPatchFromResult, checkState } from './transitions';
import {
  isFinalState,
  type AppendableEvent,
  type BatchPatch,
  type CreateRunInput,
  type ListRunsQuery,
  type LogStream,
  type RunImage,
  type RunPage,
  type RunRecord,
  type RunSummary,
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

const DEFAULT_PAGE = 1000;

export class RunStore {
  /** `<dataDir>/redlab.sqlite`. */
  readonly dbPath: string;
  /** The secrets of the runs in flight: every write is masked with all of them. */
  readonly secrets: SecretRegistry;
  private readonly sql: RunDb;
  /** The database connection, closed last (tests read its pragmas). */
  private readonly db: RunDb['db'];
  private readonly now: () => number;
  private readonly hub: EventHub;
  private readonly logs: LogFiles;
  /** Log streams being masked: they may hold back a chunk's end. */
  private readonly logMasks: LogMasking;
  private readonly followSource: FollowSource;
  private closed = false;

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
    this.hub = new EventHub(options.onListenerError ?? (err => process.emitWarning(`run store listener failed: ${String(err)}`)));
    this.secrets = options.secrets ?? new SecretRegistry();
    this.logMasks = new LogMasking(this.secrets);
    this.logs = new LogFiles(path.join(dataDir, 'runs'));
    this.sql = new RunDb(this.dbPath, options.synchronous);
    this.db = this.sql.db;
    this.followSource = {
      subscribe: (runId, listener) => this.hub.subscribe(runId, listener),
      eventsSince: (runId, sinceSeq, limit) => this.eventsSince(runId, sinceSeq, limit),
      logEventsData: (runId, events) => this.logEventsData(runId, events),
      findState: runId => this.sql.findState(runId),
      isOpen: () => !this.closed,
      followers: new Set()
    };
    // Bytes a crash left past the committed length of an unfinished run's logs.
    for (const l of this.sql.unfinishedLogs()) this.logs.trim(l.runId, l.batch, l.stream, l.bytes);
  }

  // ---------------------------------------------------------------- paths

  /** `<dataDir>/runs/<id>`: the run's log files, and where the bridge may put its outputs. */
  runDir(runId: string): string {
    return this.logs.runDir(runId);
  }

  /**
   * The log file of a batch's stream, for streaming downloads. Only its first
   * `readLog(...).size` bytes are committed: serve no more than that.
   */
  logPath(runId: string, batch: number, stream: LogStream): string {
    return this.logs.logPath(runId, batch, stream);
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
    const event = this.sql.transaction(() => {
      this.sql.insertRun(id, at, {
        red: m.maskValue(input.red ?? null),
        options: m.maskValue(input.options ?? {}),
        image: m.maskValue(input.image),
        wallClockLimitMs: limit
      });
      return this.sql.recordState(id, null, 'queued', at);
    });
    this.hub.notify(event);
    return this.getRun(id)!;
  }

  /** The whole record (RED, result, batches, history), or undefined. */
  getRun(runId: string): RunRecord | undefined {
    const record = this.sql.getRun(runId);
    return record && { ...record, dir: this.runDir(runId) };
  }

  /** The run without RED, batches and history, or undefined. */
  getSummary(runId: string): RunSummary | undefined {
    return this.sql.getSummary(runId);
  }

  /** Newest first, `limit` at a time; pass `nextCursor` back as `cursor` for the next page. */
  listRuns(query: ListRunsQuery = {}): RunPage {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 1000);
    const states = query.state === undefined ? [] : Array.isArray(query.state) ? query.state : [query.state];
    states.forEach(checkState);
    const { runs, more } = this.sql.listRuns(states, query.cursor, limit);
    return more ? { runs, nextCursor: runs[runs.length - 1].id } : { runs };
  }

  /** Runs not in a final state, oldest first: after a crash, the bridge decides what became of each. */
  unfinishedRuns(): RunSummary[] {
    return this.sql.unfinishedRuns();
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
    const event = this.sql.transaction(() => {
      assertRunTransition(runId, this.sql.stateOf(runId), state);
      const at = this.now();
      this.sql.setRunState(runId, state, at, opts.error, isFinalState(state));
      return this.sql.recordState(runId, null, state, at, opts.error);
    });
    if (isFinalState(state)) this.logs.closeRun(runId);
    this.hub.notify(event);
    return event.seq;
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
    const masked = this.secrets.maskValue(patch);
    const event = this.sql.transaction(() => this.applyBatchPatch(runId, index, masked, this.now()));
    if (event) this.hub.notify(event);
    return event?.seq ?? 0;
  }

  /** Records the image the run uses (resolved, pulled or built). */
  setImage(runId: string, image: RunImage): void {
    this.sql.transaction(() => {
      this.sql.stateOf(runId);
      this.sql.setImage(runId, this.secrets.maskValue(image), this.now());
    });
  }

  /**
   * Stores the run's result (masked here, as every write) and copies each BatchResult into its
   * batch (container, exit code, command, timings, outputs, error; a batch not yet in
   * a final state moves to the result's). Writes a `result` event. The run's own state
   * is left alone: the caller sets it next (collecting → succeeded, or → failed).
   */
  setResult(runId: string, result: RunResult): number {
    this.flushLogMasks(runId);
    const masked = this.secrets.maskValue(result);
    const events: StoredEvent[] = [];
    this.sql.transaction(() => {
      this.sql.stateOf(runId);
      const at = this.now();
      this.sql.setResult(runId, masked, at);
      for (const b of masked.batches ?? []) {
        const e = this.applyBatchPatch(runId, b.index, batchPatchFromResult(b, this.sql.batchState(runId, b.index)), at);
        if (e) events.push(e);
      }
      events.push(this.sql.insertEvent(runId, at, { type: 'result', state: masked.state }));
    });
    for (const e of events) this.hub.notify(e);
    return events[events.length - 1].seq;
  }

  /**
   * Deletes a finished run's records. With `purge`, its folder (logs, outputs) goes too;
   * without, the files stay on disk. A run that is not final cannot be deleted: cancel
   * it first. Returns false when there was no such run.
   */
  deleteRun(runId: string, opts: { purge?: boolean } = {}): boolean {
    const state = this.sql.findState(runId);
    if (state === undefined) return false;
    if (!isFinalState(state)) throw new Error(`run ${runId} is ${state}: cancel it before deleting it`);
    this.logs.closeRun(runId);
    this.logMasks.forget(runId);
    this.secrets.release(runId);
    this.sql.deleteRun(runId);
    if (opts.purge) fs.rmSync(this.runDir(runId), { recursive: true, force: true });
    this.hub.notifyDeleted(runId);
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
    const stored = this.sql.transaction(() => {
      this.sql.stateOf(runId);
      return this.sql.insertEvent(runId, this.now(), masked);
    });
    this.hub.notify(stored);
    return stored.seq;
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
    return this.writeLog(runId, batch, stream, this.logMasks.mask(runId, batch, stream, data));
  }

  /**
   * Forgets a run's secrets (after it ended: what it still writes is masked with the
   * other runs' secrets only). Held-back log ends are written first.
   */
  releaseSecrets(runId: string): void {
    this.flushLogMasks(runId);
    this.secrets.release(runId);
  }

  /**
   * Events with seq > sinceSeq, in order, at most `limit` (default 1000). Log events
   * carry offsets only: pass them through logEventsData for their bytes.
   */
  eventsSince(runId: string, sinceSeq = 0, limit = DEFAULT_PAGE): StoredEvent[] {
    return this.sql.eventsSince(runId, Math.trunc(sinceSeq), Math.min(Math.max(Math.trunc(limit), 1), 100_000));
  }

  /** Copies of `events` with the `data` (UTF-8) of each log event read from its file. */
  logEventsData(runId: string, events: readonly StoredEvent[]): StoredEvent[] {
    return this.logs.withData(runId, events);
  }

  /** Committed bytes of a log from `since`, at most `maxBytes`. */
  readLog(runId: string, opts: ReadLogOptions): LogSlice {
    checkBatch(opts.batch);
    checkStream(opts.stream);
    this.sql.stateOf(runId);
    const size = this.sql.logBytes(runId, opts.batch, opts.stream);
    const since = Math.min(Math.max(Math.trunc(opts.since ?? 0), 0), size);
    const want = Math.min(size - since, Math.max(Math.trunc(opts.maxBytes ?? 1 << 20), 0));
    if (want === 0) return { data: Buffer.alloc(0), offset: since, end: since, size };
    const data = this.logs.read(runId, opts.batch, opts.stream, since, want);
    return { data, offset: since, end: since + data.length, size };
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
    return this.hub.subscribe(runId, listener);
  }

  /** Every committed event of every run (run lists, dashboards). Log events come without `data`. */
  subscribeAll(listener: AnyEventListener): () => void {
    return this.hub.subscribeAll(listener);
  }

  /** Calls `listener` with the id of every run deleted (deleteRun), after its records are gone. */
  subscribeDeletions(listener: (runId: string) => void): () => void {
    return this.hub.subscribeDeletions(listener);
  }

  /**
   * Sends every event of `runId` after `sinceSeq`, then each new one, exactly once and
   * in seq order, awaiting `send` (so a slow WebSocket slows the replay, not the run).
   */
  follow(runId: string, sinceSeq: number, send: (e: StoredEvent) => void | Promise<void>, opts: FollowOptions = {}): Follower {
    return follow(this.followSource, runId, sinceSeq, send, opts);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Closes log files and the database (which checkpoints the WAL). Idempotent. */
  close(): void {
    if (this.closed) return;
    for (const runId of this.logMasks.runIds()) this.flushLogMasks(runId);
    this.closed = true;
    for (const stop of [...this.followSource.followers]) stop();
    this.logs.closeAll();
    this.hub.clear();
    this.db.close();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  // ---------------------------------------------------------------- internals

  /** Inside a transaction: writes the patch, with the state change's history row and event when it has one. */
  private applyBatchPatch(runId: string, index: number, patch: BatchPatch, at: number): StoredEvent | undefined {
    this.sql.stateOf(runId);
    const row = this.sql.ensureBatch(runId, index, at);
    let event: StoredEvent | undefined;
    if (patch.state !== undefined) {
      assertBatchTransition(runId, index, row.state, patch.state);
      event = this.sql.recordState(runId, index, patch.state, at, patch.error);
    }
    this.sql.updateBatch(runId, row, patch, at);
    this.sql.touchRun(runId, at);
    return event;
  }

  /** Writes what held-back log ends the run's (or one batch's) masking streams hold. */
  private flushLogMasks(runId: string, batch?: number): void {
    for (const held of this.logMasks.end(runId, batch)) {
      if (this.sql.findState(runId) !== undefined) this.writeLog(runId, held.batch, held.stream, held.rest);
    }
  }

  /** File first, then the commit: a crash in between leaves only uncommitted bytes, never served and trimmed later. */
  private writeLog(runId: string, batch: number, stream: LogStream, data: string | Buffer): { seq: number; offset: number } {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let offset = 0;
    const stored = this.sql.transaction(() => {
      this.sql.stateOf(runId);
      offset = this.sql.logBytes(runId, batch, stream);
      if (bytes.length === 0) return undefined;
      this.logs.write(runId, batch, stream, offset, bytes);
      this.sql.setLogBytes(runId, batch, stream, offset + bytes.length);
      const e: StoredLogEvent = { type: 'log', batch, stream, offset, length: bytes.length };
      return this.sql.insertEvent(runId, this.now(), e);
    });
    if (!stored) return { seq: 0, offset };
    if (this.hub.hasListeners(runId)) {
      (stored.event as StoredLogEvent).data = typeof data === 'string' ? data : bytes.toString('utf8');
      this.hub.notify(stored);
    }
    return { seq: stored.seq, offset };
  }
}
