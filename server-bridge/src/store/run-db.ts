// The run store's SQL: opening `redlab.sqlite` (WAL, pragmas, migrations: see schema.ts
// and the durability notes in run-store.ts), the prepared statements, and the mapping
// between rows and the records the store hands out (JSON columns, epoch ms → ISO).
// Nothing here masks, notifies or touches log files, and nothing opens a transaction but
// `transaction`: RunStore composes these row operations into its atomic writes.
import Database from 'better-sqlite3';
import type { RunResult, RunState } from '../../../src/red';
import { migrate } from './schema';
import {
  FINAL_STATES,
  RunNotFoundError,
  type BatchPatch,
  type BatchRecord,
  type LogStream,
  type RunImage,
  type RunOptions,
  type RunRecord,
  type RunSummary,
  type StateChange,
  type StoreEvent,
  type StoredEvent
} from './types';

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

export interface BatchRow {
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

/** A log file's committed length, as table log_files has it. */
export interface CommittedLog {
  runId: string;
  batch: number;
  stream: LogStream;
  bytes: number;
}

/** The columns of a run written when it is created (values masked by the caller). */
export interface NewRunRow {
  red: unknown;
  options?: RunOptions;
  image?: RunImage;
  wallClockLimitMs?: number;
}

export const iso = (ms: number) => new Date(ms).toISOString();
const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(s: string | null | undefined): T | undefined => (s == null ? undefined : (JSON.parse(s) as T));

/** SQL list of the final states, for queries of unfinished runs. */
const FINAL_SQL = FINAL_STATES.map(s => `'${s}'`).join(', ');

const SUMMARY_COLUMNS = `id, created_at, updated_at, finished_at, state, options, image, error, wall_clock_limit_ms,
  (SELECT COUNT(*) FROM batches b WHERE b.run_id = runs.id) AS batch_count,
  (SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.run_id = runs.id) AS last_seq`;

function prepare(db: Database.Database) {
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
    unfinished: db.prepare<[], RunRow>(`SELECT ${SUMMARY_COLUMNS} FROM runs WHERE state NOT IN (${FINAL_SQL}) ORDER BY id`)
  };
}

/** Opens (creating) the store's database file as every connection to it must be: WAL, foreign keys, a busy timeout, migrated to the latest schema. */
export function openDatabase(dbPath: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): Database.Database {
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export class RunDb {
  readonly db: Database.Database;
  private readonly st: ReturnType<typeof prepare>;

  /** Opens (creating when needed) the database at `dbPath` and migrates its schema. */
  constructor(dbPath: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL') {
    const db = openDatabase(dbPath, synchronous);
    this.db = db;
    this.st = prepare(db);
  }

  /** Runs `fn` in one IMMEDIATE transaction and returns what it returns. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---------------------------------------------------------------- runs

  /** The run's state, or undefined when there is no such run. */
  findState(runId: string): RunState | undefined {
    return this.st.runState.get(runId)?.state;
  }

  /** The run's state; throws RunNotFoundError when there is no such run. */
  stateOf(runId: string): RunState {
    const state = this.findState(runId);
    if (state === undefined) throw new RunNotFoundError(runId);
    return state;
  }

  /** Inserts a run in state `queued` (no history row, no event: see recordState). */
  insertRun(id: string, at: number, run: NewRunRow): void {
    this.st.insertRun.run(id, at, at, JSON.stringify(run.red ?? null), JSON.stringify(run.options ?? {}), json(run.image), run.wallClockLimitMs ?? null);
  }

  /** Sets the run's state (and its error, when given; finishedAt, when final). */
  setRunState(runId: string, state: RunState, at: number, error: string | undefined, final: boolean): void {
    this.st.setRunState.run(state, at, error ?? null, final ? 1 : 0, at, runId);
  }

  setResult(runId: string, result: RunResult, at: number): void {
    this.st.setResult.run(JSON.stringify(result), at, runId);
  }

  setImage(runId: string, image: RunImage, at: number): void {
    this.st.setImage.run(JSON.stringify(image), at, runId);
  }

  touchRun(runId: string, at: number): void {
    this.st.touchRun.run(at, runId);
  }

  /** Deletes the run's rows (batches, history, events and log lengths go with it). */
  deleteRun(runId: string): void {
    this.st.deleteRun.run(runId);
  }

  /** The whole record but its folder, or undefined. */
  getRun(runId: string): Omit<RunRecord, 'dir'> | undefined {
    const row = this.st.full.get(runId);
    if (!row) return undefined;
    return {
      ...toSummary(row),
      red: parse<unknown>(row.red),
      result: parse<RunResult>(row.result),
      batches: this.batchRecords(runId),
      history: this.st.history.all(runId).map(h => {
        const c: StateChange = { batch: h.batch, state: h.state, at: iso(h.at) };
        if (h.error != null) c.error = h.error;
        return c;
      })
    };
  }

  getSummary(runId: string): RunSummary | undefined {
    const row = this.st.summary.get(runId);
    return row ? toSummary(row) : undefined;
  }

  /** Runs in `states` (all when empty) with ids below `cursor`, newest first, at most `limit`; and whether more follow. */
  listRuns(states: readonly RunState[], cursor: string | undefined, limit: number): { runs: RunSummary[]; more: boolean } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (states.length) {
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      params.push(...states);
    }
    if (cursor !== undefined) {
      where.push('id < ?');
      params.push(cursor);
    }
    const rows = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`)
      .all(...params, limit + 1) as RunRow[];
    return { runs: rows.slice(0, limit).map(toSummary), more: rows.length > limit };
  }

  /** Runs not in a final state, oldest first. */
  unfinishedRuns(): RunSummary[] {
    return this.st.unfinished.all().map(toSummary);
  }

  // ---------------------------------------------------------------- batches

  /** The batch's state, or undefined when it has no record yet. */
  batchState(runId: string, index: number): RunState | undefined {
    return this.st.batch.get(runId, index)?.state;
  }

  /** Batch `index`'s row, created in state `queued` when it has none yet. */
  ensureBatch(runId: string, index: number, at: number): BatchRow {
    let row = this.st.batch.get(runId, index);
    if (!row) {
      this.st.insertBatch.run(runId, index, at);
      row = this.st.batch.get(runId, index)!;
    }
    return row;
  }

  /** Writes `patch` over the batch `row`; the fields it leaves out (or null) stay as they are. */
  updateBatch(runId: string, row: BatchRow, patch: BatchPatch, at: number): void {
    const pick = <K extends keyof BatchPatch>(k: K, col: string | number | null, toCol: (v: NonNullable<BatchPatch[K]>) => string | number) =>
      patch[k] === undefined || patch[k] === null ? col : toCol(patch[k] as NonNullable<BatchPatch[K]>);
    this.st.updateBatch.run(
      patch.state ?? row.state,
      pick('containerId', row.container_id, v => v),
      pick('exitCode', row.exit_code, v => v),
      pick('command', row.command, v => JSON.stringify(v)),
      pick('timings', row.timings, v => JSON.stringify(v)),
      pick('outputs', row.outputs, v => JSON.stringify(v)),
      pick('error', row.error, v => v),
      at,
      runId,
      row.idx
    );
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

  // ---------------------------------------------------------------- events

  /** Appends `event` with the run's next seq. */
  insertEvent(runId: string, at: number, event: StoreEvent): StoredEvent {
    const seq = this.st.lastSeq.get(runId)! + 1;
    this.st.insertEvent.run(runId, seq, at, event.type, JSON.stringify(event));
    return { runId, seq, at: iso(at), event };
  }

  /** A state change of the run (`batch` null) or of a batch: its history row and its `state` event. */
  recordState(runId: string, batch: number | null, state: RunState, at: number, error?: string): StoredEvent {
    this.st.insertHistory.run(runId, batch, state, at, error ?? null);
    return this.insertEvent(runId, at, {
      type: 'state',
      state,
      ...(batch !== null ? { batch } : {}),
      ...(error !== undefined ? { error } : {})
    });
  }

  /** Events with seq > sinceSeq in order, at most `limit`; log events without `data`. */
  eventsSince(runId: string, sinceSeq: number, limit: number): StoredEvent[] {
    return this.st.eventsSince.all(runId, sinceSeq, limit).map(r => ({
      runId,
      seq: r.seq,
      at: iso(r.at),
      event: JSON.parse(r.payload) as StoreEvent
    }));
  }

  // ---------------------------------------------------------------- log lengths

  /** Committed length of a log (0 when nothing was written). */
  logBytes(runId: string, batch: number, stream: LogStream): number {
    return this.st.logBytes.get(runId, batch, stream) ?? 0;
  }

  setLogBytes(runId: string, batch: number, stream: LogStream, bytes: number): void {
    this.st.setLogBytes.run(runId, batch, stream, bytes);
  }

  /** Committed lengths of the logs of runs not in a final state. */
  unfinishedLogs(): CommittedLog[] {
    return this.st.unfinishedLogs.all().map(l => ({ runId: l.run_id, batch: l.batch, stream: l.stream, bytes: l.bytes }));
  }
}

function toSummary(row: RunRow): RunSummary {
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
