// The durable record of container sessions (issue 10) in the run store's SQLite file
// (tables sessions and session_executions, migration 3 in schema.ts): one row per
// session (its spec with env NAMES only, container, state, error) and one per cell it ran
// (code, pinned image, GPUs, times, outputs and their hashes), so that an execution is
// kept like a small run and a restarted bridge knows which containers are its sessions'.
//
// Every text written passes through `secrets` (the store's SecretRegistry: a session's
// env values are held there while it lives), as every write of the RunStore does.
// Outputs are written when an execution ends, not per output: a cell that floods stdout
// costs one write.
import type Database from 'better-sqlite3';
import type { ExecutionRecord, ExecutionState, Gpu, Masking, SessionGpuRequest, SessionState } from '../../../src/red';
import { iso, openDatabase } from './run-db';
import { storedOutputs } from './stored-outputs';

/** What a session row keeps of its spec: never an env value. */
export interface StoredSessionSpec {
  /** As asked, and what it resolved to once started. */
  image: { ref: string; id?: string; digest?: string };
  ram?: number;
  cpus?: number;
  gpuRequest?: SessionGpuRequest;
  /** The GPUs it holds. */
  gpus: Gpu[];
  envNames: string[];
}

export interface SessionRow {
  id: string;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  notebookPath: string;
  profile: string;
  engine: string;
  spec: StoredSessionSpec;
  containerId?: string;
  state: SessionState;
  error?: string;
  python?: string;
  executionCount: number;
  lastSeq: number;
}

export type SessionPatch = Partial<Pick<SessionRow, 'spec' | 'containerId' | 'state' | 'error' | 'python' | 'executionCount' | 'lastSeq' | 'finishedAt'>>;

interface SessionSqlRow {
  id: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  notebook_path: string;
  profile: string;
  engine: string;
  spec: string;
  container_id: string | null;
  state: SessionState;
  error: string | null;
  python: string | null;
  execution_count: number;
  last_seq: number;
}

interface ExecutionSqlRow {
  id: string;
  session_id: string;
  notebook_path: string;
  cell_id: string | null;
  code: string;
  state: ExecutionState;
  execution_count: number | null;
  image: string;
  gpus: string;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
  outputs: string;
  outputs_left_out: number;
  output_hashes: string;
  error: string | null;
}

const FINAL_SESSION_SQL = `('dead', 'stopped')`;
const FINAL_EXECUTION_SQL = `('ok', 'error', 'aborted', 'lost')`;
const ms = (isoTime: string | undefined) => (isoTime === undefined ? null : Date.parse(isoTime));

function toSession(r: SessionSqlRow): SessionRow {
  return {
    id: r.id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
    notebookPath: r.notebook_path,
    profile: r.profile,
    engine: r.engine,
    spec: JSON.parse(r.spec) as StoredSessionSpec,
    ...(r.container_id !== null ? { containerId: r.container_id } : {}),
    state: r.state,
    ...(r.error !== null ? { error: r.error } : {}),
    ...(r.python !== null ? { python: r.python } : {}),
    executionCount: r.execution_count,
    lastSeq: r.last_seq
  };
}

function toExecution(r: ExecutionSqlRow): ExecutionRecord {
  return {
    id: r.id,
    sessionId: r.session_id,
    ...(r.cell_id !== null ? { cellId: r.cell_id } : {}),
    notebookPath: r.notebook_path,
    code: r.code,
    state: r.state,
    ...(r.execution_count !== null ? { executionCount: r.execution_count } : {}),
    outputs: JSON.parse(r.outputs) as ExecutionRecord['outputs'],
    ...(r.outputs_left_out ? { outputsLeftOut: r.outputs_left_out } : {}),
    outputHashes: JSON.parse(r.output_hashes) as string[],
    image: JSON.parse(r.image) as ExecutionRecord['image'],
    gpus: JSON.parse(r.gpus) as string[],
    queuedAt: iso(r.queued_at),
    ...(r.started_at !== null ? { startedAt: iso(r.started_at) } : {}),
    ...(r.finished_at !== null ? { finishedAt: iso(r.finished_at) } : {}),
    ...(r.error !== null ? { error: r.error } : {})
  };
}

export class SessionDb {
  private readonly db: Database.Database;
  private readonly sql;

  /** Opens the run store's database file (`dbPath`, already migrated by RunStore.open: migrating again is a no-op). */
  constructor(
    dbPath: string,
    private readonly secrets: Masking,
    private readonly now: () => number = Date.now
  ) {
    const db = openDatabase(dbPath);
    this.db = db;
    this.sql = {
      insertSession: db.prepare(
        `INSERT INTO sessions (id, created_at, updated_at, notebook_path, profile, engine, spec, state, last_seq)
         VALUES (@id, @now, @now, @notebookPath, @profile, @engine, @spec, @state, @lastSeq)`
      ),
      session: db.prepare<[string], SessionSqlRow>('SELECT * FROM sessions WHERE id = ?'),
      unfinished: db.prepare<[], SessionSqlRow>(`SELECT * FROM sessions WHERE state NOT IN ${FINAL_SESSION_SQL} ORDER BY id`),
      insertExecution: db.prepare(
        `INSERT INTO session_executions (id, session_id, cell_id, code, state, image, gpus, queued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
      ),
      updateExecution: db.prepare(
        `UPDATE session_executions SET state = ?, execution_count = ?, image = ?, started_at = ?, finished_at = ?, outputs = ?, outputs_left_out = ?, output_hashes = ?, error = ?
         WHERE id = ?`
      ),
      execution: db.prepare<[string, string], ExecutionSqlRow>(
        `SELECT e.*, s.notebook_path FROM session_executions e JOIN sessions s ON s.id = e.session_id WHERE e.session_id = ? AND e.id = ?`
      ),
      loseExecutions: db.prepare(
        `UPDATE session_executions SET state = 'lost', error = ?, finished_at = ?
         WHERE session_id = ? AND state NOT IN ${FINAL_EXECUTION_SQL} AND (? IS NULL OR state = ?)`
      )
    };
  }

  insertSession(row: Pick<SessionRow, 'id' | 'notebookPath' | 'profile' | 'engine' | 'spec' | 'state' | 'lastSeq'>): void {
    this.sql.insertSession.run({
      id: row.id,
      now: this.now(),
      notebookPath: this.secrets.mask(row.notebookPath),
      profile: this.secrets.mask(row.profile),
      engine: row.engine,
      spec: JSON.stringify(this.secrets.maskValue(row.spec)),
      state: row.state,
      lastSeq: row.lastSeq
    });
  }

  updateSession(id: string, patch: SessionPatch): void {
    const cols: string[] = ['updated_at = ?'];
    const values: unknown[] = [this.now()];
    const set = (col: string, v: unknown) => {
      cols.push(`${col} = ?`);
      values.push(v);
    };
    if (patch.spec !== undefined) set('spec', JSON.stringify(this.secrets.maskValue(patch.spec)));
    if ('containerId' in patch) set('container_id', patch.containerId ?? null);
    if (patch.state !== undefined) set('state', patch.state);
    if ('error' in patch) set('error', patch.error === undefined ? null : this.secrets.mask(patch.error));
    if (patch.python !== undefined) set('python', patch.python);
    if (patch.executionCount !== undefined) set('execution_count', patch.executionCount);
    if (patch.lastSeq !== undefined) set('last_seq', patch.lastSeq);
    if (patch.finishedAt !== undefined) set('finished_at', patch.finishedAt);
    values.push(id);
    this.db.prepare(`UPDATE sessions SET ${cols.join(', ')} WHERE id = ?`).run(...values);
  }

  getSession(id: string): SessionRow | undefined {
    const r = this.sql.session.get(id);
    return r ? toSession(r) : undefined;
  }

  /** Sessions not dead or stopped: a restarted bridge reattaches to their containers or ends them. */
  unfinishedSessions(): SessionRow[] {
    return this.sql.unfinished.all().map(toSession);
  }

  /** A new execution (queued), with the session's pinned image and GPUs. */
  insertExecution(r: ExecutionRecord): void {
    this.sql.insertExecution.run(r.id, r.sessionId, r.cellId ?? null, this.secrets.mask(r.code), r.state, JSON.stringify(r.image), JSON.stringify(r.gpus), ms(r.queuedAt));
  }

  /** Its state, times, and (once final) outputs and their hashes. */
  updateExecution(r: ExecutionRecord): void {
    // The copy kept is bounded (a cell may print gigabytes); masked as every write.
    const stored = storedOutputs(r.outputs);
    this.sql.updateExecution.run(
      r.state,
      r.executionCount ?? null,
      JSON.stringify(r.image),
      ms(r.startedAt),
      ms(r.finishedAt),
      JSON.stringify(this.secrets.maskValue(stored.outputs)),
      stored.leftOut,
      JSON.stringify(r.outputHashes),
      r.error === undefined ? null : this.secrets.mask(r.error),
      r.id
    );
  }

  getExecution(sessionId: string, id: string): ExecutionRecord | undefined {
    const r = this.sql.execution.get(sessionId, id);
    return r ? toExecution(r) : undefined;
  }

  /** Marks the session's queued and running executions (only those in `state`, when given) lost with `error`; returns how many. */
  loseExecutions(sessionId: string, error: string, state?: 'queued' | 'running'): number {
    return this.sql.loseExecutions.run(this.secrets.mask(error), this.now(), sessionId, state ?? null, state ?? null).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
