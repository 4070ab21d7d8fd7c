// The run store's SQLite schema as numbered migrations. `PRAGMA user_version` holds
// the number of migrations applied; opening a database applies the missing ones, all
// in one transaction, so a database is always at one well-defined version. Never edit
// a released migration: append a new one.
import type Database from 'better-sqlite3';

export interface Migration {
  /** The version the database has after this step (1, 2, …). */
  version: number;
  description: string;
  up(db: Database.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, batches, state history, events',
    up(db) {
      db.exec(`
        CREATE TABLE runs (
          id            TEXT PRIMARY KEY,          -- ULID-shaped, sorts by creation time
          created_at    INTEGER NOT NULL,          -- epoch milliseconds
          updated_at    INTEGER NOT NULL,
          finished_at   INTEGER,
          state         TEXT NOT NULL CHECK (state IN ('queued','preparing','running','collecting','succeeded','failed','cancelled')),
          red           TEXT NOT NULL,             -- JSON, masked by the caller: never a secret value
          options       TEXT NOT NULL DEFAULT '{}',-- JSON: parallel, labels, notebook path …
          image         TEXT,                      -- JSON: url, id, digest, build
          result        TEXT,                      -- JSON RunResult
          error         TEXT,
          wall_clock_limit_ms INTEGER
        );
        CREATE INDEX runs_state ON runs (state, id);

        CREATE TABLE batches (
          run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          idx           INTEGER NOT NULL,
          state         TEXT NOT NULL,
          container_id  TEXT,
          exit_code     INTEGER,
          command       TEXT,                      -- JSON string[]
          timings       TEXT,                      -- JSON PhaseTimings
          outputs       TEXT,                      -- JSON Record<string, FileRecord | null>
          error         TEXT,
          updated_at    INTEGER NOT NULL,
          PRIMARY KEY (run_id, idx)
        ) WITHOUT ROWID;

        CREATE TABLE state_history (
          id            INTEGER PRIMARY KEY,       -- insertion order
          run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          batch         INTEGER,                   -- NULL: the run itself
          state         TEXT NOT NULL,
          at            INTEGER NOT NULL,
          error         TEXT
        );
        CREATE INDEX state_history_run ON state_history (run_id, id);

        CREATE TABLE events (
          run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          seq           INTEGER NOT NULL,          -- 1, 2, 3 … per run
          at            INTEGER NOT NULL,
          type          TEXT NOT NULL,
          payload       TEXT NOT NULL,             -- JSON of the whole event; log events hold offsets, never bytes
          PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
      `);
    }
  },
  {
    version: 2,
    description: 'log_files: committed length of every log file (crash recovery trims bytes past it)',
    up(db) {
      db.exec(`
        CREATE TABLE log_files (
          run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          batch         INTEGER NOT NULL,
          stream        TEXT NOT NULL CHECK (stream IN ('stdout','stderr')),
          bytes         INTEGER NOT NULL,
          PRIMARY KEY (run_id, batch, stream)
        ) WITHOUT ROWID;
        INSERT INTO log_files (run_id, batch, stream, bytes)
          SELECT run_id,
                 json_extract(payload, '$.batch'),
                 json_extract(payload, '$.stream'),
                 MAX(json_extract(payload, '$.offset') + json_extract(payload, '$.length'))
            FROM events WHERE type = 'log'
            GROUP BY run_id, json_extract(payload, '$.batch'), json_extract(payload, '$.stream');
      `);
    }
  },
  {
    version: 3,
    description: 'sessions and session_executions: container sessions ("Run cell in container") and each cell they ran',
    up(db) {
      db.exec(`
        CREATE TABLE sessions (
          id              TEXT PRIMARY KEY,        -- ULID-shaped
          created_at      INTEGER NOT NULL,        -- epoch milliseconds
          updated_at      INTEGER NOT NULL,
          finished_at     INTEGER,
          notebook_path   TEXT NOT NULL,           -- relative to the bridge's first allowed root
          profile         TEXT NOT NULL,
          engine          TEXT NOT NULL,
          spec            TEXT NOT NULL,           -- JSON: image {ref,id,digest}, ram, cpus, gpus asked and held, env NAMES (never values)
          container_id    TEXT,
          state           TEXT NOT NULL CHECK (state IN ('starting','idle','busy','dead','stopped')),
          error           TEXT,
          python          TEXT,
          execution_count INTEGER NOT NULL DEFAULT 0,
          last_seq        INTEGER NOT NULL DEFAULT 0 -- live: a ceiling above every event seq used (reserved in blocks), a reattached session numbers on from it; final: its last event's
        );
        CREATE INDEX sessions_state ON sessions (state, id);

        CREATE TABLE session_executions (
          id              TEXT PRIMARY KEY,
          session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
          cell_id         TEXT,
          code            TEXT NOT NULL,
          state           TEXT NOT NULL CHECK (state IN ('queued','running','ok','error','aborted','lost')),
          execution_count INTEGER,
          image           TEXT NOT NULL,           -- JSON {ref,id,digest}: pinned
          gpus            TEXT NOT NULL DEFAULT '[]', -- JSON string[]
          queued_at       INTEGER NOT NULL,
          started_at      INTEGER,
          finished_at     INTEGER,
          outputs         TEXT NOT NULL DEFAULT '[]', -- JSON nbformat outputs (masked; long streams cut in the middle)
          outputs_left_out INTEGER NOT NULL DEFAULT 0, -- characters of stream text cut from the stored outputs (hashes are of all of it)
          output_hashes   TEXT NOT NULL DEFAULT '[]', -- JSON sha256 hex of each output's canonical JSON
          error           TEXT
        );
        CREATE INDEX session_executions_session ON session_executions (session_id, id);
      `);
    }
  }
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export class SchemaVersionError extends Error {
  constructor(readonly found: number, readonly supported: number) {
    super(
      `the run database has schema version ${found}, newer than this bridge supports (${supported}); ` +
        'use a newer RED Lab, or start with another data directory'
    );
    this.name = 'SchemaVersionError';
  }
}

/**
 * Brings `db` to `target` (default: the latest version). All missing steps run in one
 * IMMEDIATE transaction together with the user_version update: a crash or a failing
 * step leaves the database at its old version, untouched. Returns the versions
 * before and after.
 */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION) throw new SchemaVersionError(from, SCHEMA_VERSION);
  if (from >= target) return { from, to: from };
  const steps = MIGRATIONS.filter(m => m.version > from && m.version <= target);
  db.transaction(() => {
    for (const step of steps) step.up(db);
    // PRAGMA takes no bound parameters; target is a number we checked.
    db.pragma(`user_version = ${Math.trunc(target)}`);
  }).immediate();
  return { from, to: target };
}
