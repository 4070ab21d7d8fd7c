// The bridge's owner of container sessions ("Run cell in container", issue 10): it checks
// a create request (fields, image allowlist, an engine with capabilities.sessions, the
// notebook's folder on an open descriptor, GPUs from the engine's pool that runs use too),
// starts the session's container through the engine seam (EngineSessions), queues cells
// FIFO and sends them to the runner one at a time, keeps each execution's outputs (streams
// merged, hashed) and a bounded event log per session with live subscribers, records
// sessions and executions in SQLite (store/session-db.ts), stops idle sessions, and after
// a bridge restart reattaches to the session containers it left running.
//
// States follow src/red/session.ts (canSessionTransition): starting -> idle <-> busy, a
// restart goes back to starting under the same id; dead (the container ended on its own:
// why is in `error`) and stopped are final, and executes are then refused with the reason.
import { createHash } from 'crypto';
import type { Logger } from 'pino';
import {
  canSessionTransition,
  isFinalExecutionState,
  isFinalSessionState,
  isSecretEnvName,
  SecretMasker,
  type ExecuteRequest,
  type ExecuteResponse,
  type ExecutionRecord,
  type ExecutionState,
  type Gpu,
  type MaskingStream,
  type NotebookOutput,
  type SecretRegistry,
  type SessionCreateRequest,
  type SessionEventMessage,
  type SessionGpuRequest,
  type SessionInfo,
  type SessionState
} from '../../../src/red';
import type { RunStore } from '../store';
import { newRunId } from '../store/ids';
import { iso } from '../store/run-db';
import { SessionDb, type SessionRow, type StoredSessionSpec } from '../store/session-db';
import { describeInventory } from '../engine/gpu';
import type { Engine, EngineSession, SessionMessage, SessionSpec } from '../engine/types';
import type { EngineRegistry } from '../engine/registry';
import type { GpuPool } from './gpu-pool';
import { RequestError, type SessionService } from './service';
import { SessionEventLog, type EventLogLimits } from './session-events';
import { OutputRecorder } from './session-outputs';
import { describeGpuAsk, fieldError, gpuRequirement, parseSessionRequest } from './session-request';
import { openNotebookFolder, type CheckedFolder } from './session-workdir';

/** Containers of this bridge's sessions carry the hash of its database path: another bridge's are never touched. */
export const LABEL_SESSION_STORE = 'org.redlab.session-store';
/** The engine (by name) that started a session's container: two engines may share one Docker daemon. */
export const LABEL_SESSION_ENGINE = 'org.redlab.session-engine';

export const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 60 * 60_000;
/** Final sessions kept in memory (their events and executions); older ones are read from SQLite. */
const FINAL_SESSIONS_KEPT = 50;
/** Final executions kept in memory per session, at most, and their stream text at most (characters): older ones are read back from SQLite (bounded there). */
const EXECUTIONS_KEPT = 200;
const EXECUTION_CHARS_KEPT = 64 * 1024 * 1024;

export interface SessionManagerConfig {
  /** Host folders a notebook's folder may be in. */
  allowedRoots: string[];
  /** The Jupyter root: notebook paths are relative to it. */
  baseDir: string;
  /** As for runs: only images matching these patterns (named in refusals). */
  imageAllowlist?: string[];
  /** A session idle this long is stopped; 0: never. Default 60 minutes. */
  idleTimeoutMs?: number;
  eventLimits?: EventLogLimits;
  /** How long a runner may take to say it is ready. */
  readyTimeoutMs?: number;
}

/** What sessions share with runs (RunManager has them): the GPU pools and the image allowlist check. */
export interface SessionResources {
  gpus(engine: string): GpuPool;
  imageAllowed(image: string, engine: Engine): Promise<boolean>;
}

interface Execution {
  /** What the runner gets; the record holds it masked (an env value typed into a cell). */
  code: string;
  record: ExecutionRecord;
  /** Stream text masked as it arrives, per stream name (a secret split across chunks too). */
  masks: Map<string, MaskingStream>;
  /** The record's outputs (the same array) and their hashes, kept as outputs arrive. */
  recorder: OutputRecorder;
  waiters: Set<() => void>;
}

interface Session {
  id: string;
  notebookPath: string;
  folder: string;
  profile: string;
  engine: Engine;
  image: { ref: string; id?: string; digest?: string };
  ram?: number;
  cpus?: number;
  gpuRequest?: SessionGpuRequest;
  gpus: Gpu[];
  /** Values in memory only. */
  env: Record<string, string>;
  createdAt: number;
  lastActivityAt: number;
  state: SessionState;
  error?: string;
  python?: string;
  executionCount: number;
  containerId?: string;
  engineSession?: EngineSession;
  /** Counts starts: listeners of an earlier container (a restart replaced it) are ignored. */
  launch: number;
  queue: Execution[];
  /** Sent to the runner, not final yet. */
  current?: Execution;
  /** An interrupt came before the runner started `current` (SIGINT then is ignored): sent once it says busy. */
  interruptPending?: boolean;
  executions: Map<string, Execution>;
  events: SessionEventLog;
  idleTimer?: NodeJS.Timeout;
}

const BRIDGE_RESTARTED_RUNNING = 'the bridge restarted while it ran';
const BRIDGE_RESTARTED_QUEUED = 'the bridge restarted before it ran';

/** "N minutes" (or seconds, under a minute). */
export function describeIdle(ms: number): string {
  if (ms < 60_000) {
    const s = Math.round(ms / 1000);
    return `${s} second${s === 1 ? '' : 's'}`;
  }
  const m = Math.round(ms / 60_000);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

export class SessionManager implements SessionService {
  private readonly sessions = new Map<string, Session>();
  private readonly db: SessionDb;
  private readonly secrets: SecretRegistry;
  /** The value of LABEL_SESSION_STORE on this bridge's session containers. */
  readonly storeLabel: string;
  private accepting = true;
  /** close() ran: the database is closed, nothing more is written. */
  private closed = false;

  constructor(
    store: RunStore,
    private readonly engines: EngineRegistry,
    private readonly shared: SessionResources,
    private readonly config: SessionManagerConfig,
    private readonly log: Logger
  ) {
    this.secrets = store.secrets;
    this.db = new SessionDb(store.dbPath, store.secrets);
    this.storeLabel = createHash('sha256').update(store.dbPath).digest('hex').slice(0, 16);
  }

  private get idleTimeoutMs(): number {
    return this.config.idleTimeoutMs ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS;
  }

  // ---------------------------------------------------------------------------
  // SessionService

  async create(req: SessionCreateRequest): Promise<{ session: SessionInfo; created: boolean }> {
    if (!this.accepting) throw new RequestError(503, 'the bridge is shutting down; start the session again once it is back');
    const r = parseSessionRequest(req);
    const engine = this.engineFor(r.engine);
    const live = this.liveFor(r.notebookPath, r.profile);
    if (live) return { session: this.info(live), created: false };
    if (!(await this.shared.imageAllowed(r.image, engine))) {
      throw fieldError('image', `${r.image} is not in this bridge's image allowlist (${(this.config.imageAllowlist ?? []).join(', ')})`, 'use an allowed image, or ask the bridge administrator to allow it', 403);
    }
    if (r.gpus && !engine.capabilities.gpus) {
      throw new RequestError(409, `the session asks for ${describeGpuAsk(r.gpus)}, but the ${engine.name} engine cannot give containers GPUs`, { fix: 'start the session without GPUs, or on an engine with GPUs' });
    }
    const folder = await openNotebookFolder(this.config.baseDir, r.folder, this.config.allowedRoots);
    let s: Session;
    try {
      if (!this.accepting) throw new RequestError(503, 'the bridge is shutting down; start the session again once it is back');
      // Asked twice at once: the first one made it while this one checked the folder.
      const again = this.liveFor(r.notebookPath, r.profile);
      if (again) {
        await folder.close();
        return { session: this.info(again), created: false };
      }
      const id = newRunId();
      const gpus = r.gpus ? this.takeGpus(id, engine, r.gpus) : [];
      const now = Date.now();
      s = {
        id,
        notebookPath: r.notebookPath,
        folder: r.folder,
        profile: r.profile,
        engine,
        image: { ref: r.image },
        ...(r.ram !== undefined ? { ram: r.ram } : {}),
        ...(r.cpus !== undefined ? { cpus: r.cpus } : {}),
        ...(r.gpus ? { gpuRequest: r.gpus } : {}),
        gpus,
        env: r.env,
        createdAt: now,
        lastActivityAt: now,
        state: 'starting',
        executionCount: 0,
        launch: 0,
        queue: [],
        executions: new Map(),
        events: this.eventLog(id, 0)
      };
      this.holdSecrets(s);
      this.sessions.set(id, s);
      this.db.insertSession({ id, notebookPath: s.notebookPath, profile: s.profile, engine: engine.name, spec: this.storedSpec(s), state: 'starting', lastSeq: 0 });
    } catch (err) {
      await folder.close();
      throw err;
    }
    this.emitSession(s);
    void this.launch(s, folder);
    return { session: this.info(s), created: true };
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].sort((a, b) => a.createdAt - b.createdAt).map(s => this.info(s));
  }

  get(id: string): SessionInfo | undefined {
    const s = this.sessions.get(id);
    if (s) return this.info(s);
    const row = this.db.getSession(id);
    return row ? infoFromRow(row) : undefined;
  }

  async stop(id: string): Promise<SessionInfo | undefined> {
    const s = this.sessions.get(id);
    if (!s) return this.get(id);
    if (!isFinalSessionState(s.state)) await this.end(s, 'stopped', undefined, 'the session was stopped before it finished');
    return this.info(s);
  }

  execute(id: string, req: ExecuteRequest): ExecuteResponse {
    const s = this.liveSession(id);
    const body = (req ?? {}) as Partial<ExecuteRequest>;
    if (typeof body.code !== 'string') throw fieldError('code', `must be the cell's source as text, not ${JSON.stringify(body.code)}`, 'send {"code": "print(1)"}');
    if (body.cellId !== undefined && body.cellId !== null && typeof body.cellId !== 'string') throw fieldError('cellId', `must be text, not ${JSON.stringify(body.cellId)}`, "send the notebook cell's id, or leave it out");
    const recorder = new OutputRecorder();
    const record: ExecutionRecord = {
      id: newRunId(),
      sessionId: s.id,
      ...(typeof body.cellId === 'string' ? { cellId: body.cellId } : {}),
      notebookPath: s.notebookPath,
      code: this.secrets.mask(body.code),
      state: 'queued',
      outputs: recorder.outputs,
      outputHashes: [],
      image: { ...s.image },
      gpus: gpuIds(s.gpus),
      queuedAt: iso(Date.now())
    };
    const e: Execution = { code: body.code, record, masks: new Map(), recorder, waiters: new Set() };
    this.db.insertExecution(record);
    s.executions.set(record.id, e);
    s.queue.push(e);
    this.touch(s);
    this.emitExecution(s, e);
    this.pump(s);
    return { executionId: record.id, state: e.record.state };
  }

  async execution(id: string, executionId: string, opts: { wait?: boolean; signal?: AbortSignal } = {}): Promise<ExecutionRecord | undefined> {
    const e = this.sessions.get(id)?.executions.get(executionId);
    if (!e) return this.db.getExecution(id, executionId);
    if (opts.wait && !isFinalExecutionState(e.record.state) && !opts.signal?.aborted) {
      await new Promise<void>(resolve => {
        const done = () => {
          e.waiters.delete(done);
          opts.signal?.removeEventListener('abort', done);
          resolve();
        };
        e.waiters.add(done);
        opts.signal?.addEventListener('abort', done, { once: true });
      });
    }
    return snapshot(e);
  }

  async interrupt(id: string): Promise<SessionInfo> {
    const s = this.liveSession(id);
    const es = s.engineSession;
    if (s.current && s.current.record.state === 'queued') s.interruptPending = true;
    else if (s.current && es) {
      try {
        await es.interrupt();
      } catch (err) {
        // The container ended meanwhile: onEnd says why.
        if (!es.end) throw err;
      }
    }
    return this.info(s);
  }

  async restart(id: string): Promise<SessionInfo> {
    const s = this.liveSession(id);
    if (s.state === 'starting') return this.info(s);
    const old = s.engineSession;
    s.engineSession = undefined;
    s.launch++;
    this.loseAll(s, 'the session was restarted before it finished');
    s.executionCount = 0;
    this.setState(s, 'starting');
    await old?.stop().catch(err => this.log.warn({ err, sessionId: s.id }, 'could not remove the container a restart replaced'));
    // Stopped meanwhile, or the bridge stops: nothing to start.
    if (this.closed || isFinalSessionState(s.state)) return this.info(s);
    let folder: CheckedFolder;
    try {
      folder = await openNotebookFolder(this.config.baseDir, s.folder, this.config.allowedRoots);
    } catch (err) {
      if (!this.closed) this.die(s, `the restart could not use the notebook's folder: ${(err as Error).message}`);
      return this.info(s);
    }
    void this.launch(s, folder);
    return this.info(s);
  }

  subscribe(id: string, since: number, send: (m: SessionEventMessage) => void): (() => void) | undefined {
    const s = this.sessions.get(id);
    if (s) return s.events.subscribe(since, send, () => this.info(s));
    const row = this.db.getSession(id);
    if (!row) return undefined;
    // From before this bridge: only what it is now.
    send({ seq: row.lastSeq, type: 'session', session: infoFromRow(row) });
    return () => undefined;
  }

  // ---------------------------------------------------------------------------
  // bridge life

  /**
   * After a bridge restart: reattaches to the live containers of sessions the store has
   * as not final (state idle; executions that were running are lost), removes this
   * bridge's session containers no live record owns, and ends records without a container.
   */
  async start(): Promise<void> {
    const rows = this.db.unfinishedSessions();
    const containers = new Map<string, { containerId: string; sessionId: string; running?: boolean }[] | Error>();
    for (const engine of this.engines.all()) {
      if (!engine.sessions) continue;
      try {
        const all = await engine.sessions.listLive();
        containers.set(
          engine.name,
          all.filter(c => c.labels[LABEL_SESSION_STORE] === this.storeLabel && c.labels[LABEL_SESSION_ENGINE] === engine.name)
        );
      } catch (err) {
        containers.set(engine.name, err as Error);
      }
    }
    // Containers no live record owns (a session that ended while the bridge was down, one whose start it never saw end).
    for (const [name, list] of containers) {
      if (list instanceof Error) continue;
      for (const c of list) {
        const row = rows.find(r => r.id === c.sessionId && r.engine === name);
        if (row && row.containerId === c.containerId && row.state !== 'starting') continue;
        await this.engines
          .get(name)
          .sessions?.remove?.(c.containerId)
          .catch(err => this.log.warn({ err, containerId: c.containerId }, 'could not remove a session container without a session'));
      }
    }
    for (const row of rows) {
      const list = containers.get(row.engine);
      const mine = list instanceof Array ? list.find(c => c.sessionId === row.id && c.containerId === row.containerId) : undefined;
      let ending: { state: 'dead' | 'stopped'; error: string } | undefined;
      if (!this.engines.names.includes(row.engine) || !this.engines.get(row.engine).sessions) {
        ending = { state: 'stopped', error: `the bridge restarted without sessions on the ${row.engine} engine this session ran on; run a cell to start a new one` };
      } else if (list instanceof Error) {
        ending = { state: 'stopped', error: `the bridge restarted and could not reach the ${row.engine} engine (${list.message}); run a cell to start a new one` };
      } else if (row.state === 'starting' || !mine) {
        ending = { state: 'stopped', error: "the session's container was gone when the bridge restarted; run a cell to start a new one" };
      }
      if (!ending) {
        try {
          await this.reattach(row, mine as { containerId: string });
          continue;
        } catch (err) {
          ending = { state: 'dead', error: `${(err as Error).message} (it ended while the bridge was down)` };
          await this.engines.get(row.engine).sessions?.remove?.(row.containerId as string).catch(() => undefined);
        }
      }
      this.db.loseExecutions(row.id, BRIDGE_RESTARTED_RUNNING, 'running');
      this.db.loseExecutions(row.id, BRIDGE_RESTARTED_QUEUED);
      this.db.updateSession(row.id, { state: ending.state, error: ending.error, finishedAt: Date.now() });
      this.log.info({ sessionId: row.id, state: ending.state, error: ending.error }, 'session ended at restart');
    }
  }

  private async reattach(row: SessionRow, container: { containerId: string }): Promise<void> {
    const engine = this.engines.get(row.engine);
    const pool = this.shared.gpus(engine.name);
    const s: Session = {
      id: row.id,
      notebookPath: row.notebookPath,
      folder: row.notebookPath.split('/').slice(0, -1).join('/'),
      profile: row.profile,
      engine,
      image: { ...row.spec.image },
      ...(row.spec.ram !== undefined ? { ram: row.spec.ram } : {}),
      ...(row.spec.cpus !== undefined ? { cpus: row.spec.cpus } : {}),
      ...(row.spec.gpuRequest ? { gpuRequest: row.spec.gpuRequest } : {}),
      gpus: [],
      env: {},
      createdAt: row.createdAt,
      lastActivityAt: Date.now(),
      state: 'idle',
      ...(row.python ? { python: row.python } : {}),
      executionCount: row.executionCount,
      containerId: container.containerId,
      launch: 1,
      queue: [],
      executions: new Map(),
      events: this.eventLog(row.id, row.lastSeq)
    };
    const es = await (engine.sessions as NonNullable<Engine['sessions']>).reattach(container.containerId, this.spec(s), this.listeners(s, 1));
    // Its container holds these GPUs: no run or session may get them meanwhile.
    const held = pool.claim(s.id, gpuIds(row.spec.gpus));
    s.gpus = held.length ? held : row.spec.gpus;
    s.env = Object.fromEntries(row.spec.envNames.filter(n => es.env && n in es.env).map(n => [n, (es.env as Record<string, string>)[n]]));
    s.engineSession = es;
    this.holdSecrets(s);
    this.sessions.set(s.id, s);
    this.db.loseExecutions(s.id, BRIDGE_RESTARTED_RUNNING, 'running');
    this.db.loseExecutions(s.id, BRIDGE_RESTARTED_QUEUED);
    this.db.updateSession(s.id, { state: 'idle' });
    this.emitSession(s);
    this.armIdle(s);
    this.log.info({ sessionId: s.id, containerId: container.containerId }, 'reattached to a session');
    if (es.end) this.die(s, es.end.message);
  }

  /** Stops taking sessions and lets go of their containers, which keep running (the next start reattaches). */
  async close(): Promise<void> {
    this.accepting = false;
    this.closed = true;
    for (const s of this.sessions.values()) {
      clearTimeout(s.idleTimer);
      s.launch++; // a start still under way stops what it gets
      if (!isFinalSessionState(s.state)) s.engineSession?.detach?.();
      s.engineSession = undefined;
      for (const e of s.executions.values()) for (const w of [...e.waiters]) w();
      s.events.close();
    }
    this.db.close();
  }

  // ---------------------------------------------------------------------------
  // starting and ending

  private async launch(s: Session, folder: CheckedFolder): Promise<void> {
    const gen = ++s.launch;
    let es: EngineSession;
    try {
      es = await (s.engine.sessions as NonNullable<Engine['sessions']>).start({ ...this.spec(s), workDir: folder.real, workDirIdentity: { dev: folder.dev, ino: folder.ino }, workDirOwner: { uid: folder.uid, gid: folder.gid } }, this.listeners(s, gen));
    } catch (err) {
      await folder.close();
      if (s.launch === gen && !this.closed && !isFinalSessionState(s.state)) this.die(s, (err as Error).message);
      return;
    }
    await folder.close();
    if (s.launch !== gen || this.closed || isFinalSessionState(s.state)) {
      // Stopped (or restarted, or the bridge stops) while it started.
      await es.stop().catch(err => this.log.warn({ err, sessionId: s.id }, 'could not remove a session container'));
      return;
    }
    s.engineSession = es;
    s.containerId = es.containerId;
    if (es.python) s.python = es.python;
    if (es.image) s.image = { ref: s.image.ref, id: es.image.id, ...((es.image.digest ?? s.image.digest) ? { digest: es.image.digest ?? s.image.digest } : {}) };
    this.db.updateSession(s.id, { containerId: es.containerId, spec: this.storedSpec(s), ...(s.python ? { python: s.python } : {}), executionCount: 0 });
    if (es.end) return this.die(s, es.end.message);
    this.setState(s, 'idle');
    this.pump(s);
  }

  /** The container ended on its own: dead with why; what ran or waited is lost with that reason. */
  private die(s: Session, reason: string): void {
    if (isFinalSessionState(s.state)) return;
    const es = s.engineSession;
    s.engineSession = undefined;
    s.launch++;
    this.loseAll(s, reason);
    this.setState(s, 'dead', reason);
    void es?.stop().catch(err => this.log.warn({ err, sessionId: s.id }, 'could not remove an ended session container'));
  }

  /** Ends a live session on purpose (stop, idle timeout). */
  private async end(s: Session, state: 'stopped', error: string | undefined, lostReason: string): Promise<void> {
    const es = s.engineSession;
    s.engineSession = undefined;
    s.launch++;
    this.loseAll(s, lostReason);
    this.setState(s, state, error);
    await es?.stop().catch(err => this.log.warn({ err, sessionId: s.id }, 'could not remove a session container'));
  }

  private listeners(s: Session, gen: number) {
    return {
      onMessage: (m: SessionMessage) => {
        if (s.launch === gen) this.onMessage(s, m);
      },
      onEnd: (end: { message: string }) => {
        // During a start the start itself says why; afterwards the session dies.
        if (s.launch === gen && s.engineSession) this.die(s, end.message);
      },
      onRunnerLog: (text: string) => this.log.debug({ sessionId: s.id, text: this.secrets.mask(text) }, 'session runner')
    };
  }

  /** What the engine needs to start (or find again) the session's container. */
  private spec(s: Session): SessionSpec {
    return {
      sessionId: s.id,
      image: s.image.id ?? s.image.ref,
      workDir: '',
      ...(s.ram !== undefined ? { ramMb: s.ram } : {}),
      ...(s.cpus !== undefined ? { cpus: s.cpus } : {}),
      ...(s.gpus.length ? { gpuDeviceIds: s.gpus.map(g => String(g.index)) } : {}),
      env: s.env,
      labels: { 'org.redlab.bridge': 'true', [LABEL_SESSION_STORE]: this.storeLabel, [LABEL_SESSION_ENGINE]: s.engine.name },
      ...(this.config.readyTimeoutMs ? { readyTimeoutMs: this.config.readyTimeoutMs } : {})
    };
  }

  private storedSpec(s: Session): StoredSessionSpec {
    return {
      image: { ...s.image },
      ...(s.ram !== undefined ? { ram: s.ram } : {}),
      ...(s.cpus !== undefined ? { cpus: s.cpus } : {}),
      ...(s.gpuRequest ? { gpuRequest: s.gpuRequest } : {}),
      gpus: s.gpus,
      envNames: Object.keys(s.env)
    };
  }

  // ---------------------------------------------------------------------------
  // executions

  /** Sends the next queued cell when the runner has none; idle when nothing is left. */
  private pump(s: Session): void {
    if (s.current || !s.engineSession || (s.state !== 'idle' && s.state !== 'busy')) return;
    const e = s.queue.shift();
    if (!e) {
      if (s.state === 'busy') this.setState(s, 'idle');
      return;
    }
    e.record.image = { ...s.image };
    s.current = e;
    s.interruptPending = false;
    try {
      s.engineSession.execute(e.record.id, e.code, e.record.cellId);
    } catch (err) {
      return this.die(s, (err as { end?: { message: string } }).end?.message ?? (err as Error).message);
    }
    if (s.state === 'idle') this.setState(s, 'busy');
  }

  private onMessage(s: Session, m: SessionMessage): void {
    const e = 'id' in m && m.id !== null && s.current?.record.id === m.id ? s.current : undefined;
    switch (m.type) {
      case 'status':
        if (e && e.record.state === 'queued') {
          e.record.state = 'running';
          e.record.startedAt = iso(Date.now());
          this.db.updateExecution(e.record);
          this.emitExecution(s, e);
          if (s.interruptPending) {
            s.interruptPending = false;
            void s.engineSession?.interrupt().catch(err => this.log.warn({ err, sessionId: s.id }, 'could not interrupt'));
          }
        }
        return;
      case 'output':
        this.touch(s);
        if (e) this.addOutput(s, e, m.output as NotebookOutput);
        // Output of no cell (a thread a cell left running): shown, not recorded.
        else s.events.push({ type: 'output', executionId: null, output: this.secrets.maskValue(m.output as NotebookOutput) });
        return;
      case 'done':
        if (!e) return;
        this.touch(s);
        s.current = undefined;
        s.executionCount = m.executionCount;
        this.finish(s, e, m.status, { executionCount: m.executionCount });
        // As a Jupyter kernel (stop_on_error): the cells queued behind one that raised or was
        // interrupted are not run, since they may depend on what it did not do.
        if (m.status !== 'ok') this.abortQueued(s, `not run: the cell before it (In [${m.executionCount}]) ${m.status === 'error' ? 'raised an error' : 'was interrupted'}`);
        this.pump(s);
        return;
      case 'protocol-error':
        this.log.warn({ sessionId: s.id, message: m.message }, 'the session runner refused a request');
        return;
    }
  }

  private addOutput(s: Session, e: Execution, output: NotebookOutput): void {
    let out = output;
    if (out.output_type === 'stream') {
      const name = String(out.name);
      let mask = e.masks.get(name);
      if (!mask) e.masks.set(name, (mask = this.secrets.stream()));
      const text = mask.write(String(out.text ?? ''));
      if (!text) return;
      out = { ...out, text };
    } else out = this.secrets.maskValue(out);
    e.recorder.append(out);
    s.events.push({ type: 'output', executionId: e.record.id, output: out });
  }

  private finish(s: Session, e: Execution, state: ExecutionState, extra: { executionCount?: number; error?: string }): void {
    for (const [name, mask] of e.masks) {
      const rest = mask.end();
      if (rest) {
        e.recorder.append({ output_type: 'stream', name, text: rest });
        s.events.push({ type: 'output', executionId: e.record.id, output: { output_type: 'stream', name, text: rest } });
      }
    }
    e.masks.clear();
    e.record.state = state;
    e.record.finishedAt = iso(Date.now());
    if (extra.executionCount !== undefined) e.record.executionCount = extra.executionCount;
    if (extra.error !== undefined) e.record.error = this.secrets.mask(extra.error);
    e.record.outputHashes = e.recorder.hashes();
    this.db.updateExecution(e.record);
    this.emitExecution(s, e);
    this.db.updateSession(s.id, { executionCount: s.executionCount });
    for (const w of [...e.waiters]) w();
    // Older final executions are read back from SQLite.
    let chars = 0;
    for (const x of s.executions.values()) chars += x.recorder.streamChars;
    for (const [id, old] of s.executions) {
      if (s.executions.size <= EXECUTIONS_KEPT && chars <= EXECUTION_CHARS_KEPT) break;
      if (!isFinalExecutionState(old.record.state)) continue;
      chars -= old.recorder.streamChars;
      s.executions.delete(id);
    }
  }

  /** The queued executions end `aborted` with `reason`, never sent to the runner. */
  private abortQueued(s: Session, reason: string): void {
    const queued = s.queue;
    s.queue = [];
    for (const e of queued) this.finish(s, e, 'aborted', { error: reason });
  }

  /** The running and queued executions end `lost` with `reason`. */
  private loseAll(s: Session, reason: string): void {
    const pending = [...(s.current ? [s.current] : []), ...s.queue];
    s.current = undefined;
    s.queue = [];
    for (const e of pending) this.finish(s, e, 'lost', { error: reason });
  }

  // ---------------------------------------------------------------------------
  // state, events, idle timeout

  private setState(s: Session, to: SessionState, error?: string): void {
    if (s.state === to || !canSessionTransition(s.state, to)) return;
    s.state = to;
    // An error may quote the runner's stderr: masked while the session's secrets are still held.
    if (error !== undefined || to === 'starting') s.error = error === undefined ? undefined : this.secrets.mask(error);
    const final = isFinalSessionState(to);
    // A final session's stored seq is its last event's (no reattach numbers on from it).
    this.db.updateSession(s.id, { state: to, error: s.error, ...(final ? { finishedAt: Date.now(), lastSeq: s.events.lastSeq + 1 } : {}) });
    this.emitSession(s);
    this.armIdle(s);
    if (final) {
      this.shared.gpus(s.engine.name).release(s.id);
      this.secrets.release(secretKey(s.id));
      this.pruneFinal();
    }
  }

  /** A session's event log, numbering on from `lastSeq`; the seqs it may use are reserved in the session's row. */
  private eventLog(id: string, lastSeq: number): SessionEventLog {
    return new SessionEventLog(lastSeq, this.config.eventLimits, ceiling => this.db.updateSession(id, { lastSeq: ceiling }));
  }

  private emitSession(s: Session): void {
    s.events.push({ type: 'session', session: { ...this.info(s), lastSeq: s.events.lastSeq + 1 } });
  }

  private emitExecution(s: Session, e: Execution): void {
    const r = e.record;
    s.events.push({
      type: 'execution',
      executionId: r.id,
      ...(r.cellId !== undefined ? { cellId: r.cellId } : {}),
      state: r.state,
      ...(r.executionCount !== undefined ? { executionCount: r.executionCount } : {}),
      ...(r.error !== undefined ? { error: r.error } : {})
    });
  }

  private touch(s: Session): void {
    s.lastActivityAt = Date.now();
  }

  /** (Re)starts the idle clock of an idle session; any other state stops it. */
  private armIdle(s: Session): void {
    clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
    const timeout = this.idleTimeoutMs;
    if (!timeout || s.state !== 'idle') return;
    const check = () => {
      if (s.state !== 'idle' || s.current || s.queue.length) return;
      const left = s.lastActivityAt + timeout - Date.now();
      if (left > 0) {
        s.idleTimer = setTimeout(check, left);
        s.idleTimer.unref?.();
        return;
      }
      void this.end(s, 'stopped', `stopped after ${describeIdle(timeout)} idle; run a cell to start a new one`, 'the session was stopped');
    };
    s.idleTimer = setTimeout(check, timeout);
    s.idleTimer.unref?.();
  }

  private pruneFinal(): void {
    const final = [...this.sessions.values()].filter(s => isFinalSessionState(s.state));
    for (const s of final.slice(0, Math.max(0, final.length - FINAL_SESSIONS_KEPT))) {
      s.events.close();
      this.sessions.delete(s.id);
    }
  }

  // ---------------------------------------------------------------------------
  // lookups

  /** The engine a request names (else the default), which must run sessions; 422 naming those that do. */
  private engineFor(name: string | undefined): Engine {
    const able = this.engines.all().filter(e => e.capabilities.sessions && e.sessions);
    const names = able.length ? able.map(e => `"${e.name}"`).join(', ') : 'none';
    const fix = able.length ? `set engine to ${names}, or leave it out where the default engine runs sessions` : 'start the bridge with the docker engine (Docker on this machine) to run sessions';
    if (name !== undefined && !this.engines.names.includes(name)) throw fieldError('engine', `there is no engine "${name}" in this bridge; engines that run sessions: ${names}`, fix);
    const engine = this.engines.get(name);
    if (!engine.capabilities.sessions || !engine.sessions) {
      throw fieldError('engine', `the ${engine.name} engine${name === undefined ? ' (the default)' : ''} cannot run sessions; engines that can: ${names}`, fix);
    }
    return engine;
  }

  private liveFor(notebookPath: string, profile: string): Session | undefined {
    return [...this.sessions.values()].find(s => s.notebookPath === notebookPath && s.profile === profile && !isFinalSessionState(s.state));
  }

  /** A session that takes requests: 404 unknown, 409 dead or stopped (with why). */
  private liveSession(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) {
      const row = this.db.getSession(id);
      if (!row) throw new RequestError(404, `there is no session ${id}`);
      throw new RequestError(409, `the session is ${row.state}${row.error ? `: ${row.error}` : ''}`, { fix: 'start a new session (POST /sessions)' });
    }
    if (isFinalSessionState(s.state)) {
      throw new RequestError(409, `the session is ${s.state}${s.error ? `: ${s.error}` : ''}`, { fix: 'start a new session (POST /sessions)' });
    }
    return s;
  }

  /** GPUs for a new session from its engine's pool (the one runs use); 409 naming what was asked and what the engine has. */
  private takeGpus(id: string, engine: Engine, ask: SessionGpuRequest): Gpu[] {
    const pool = this.shared.gpus(engine.name);
    const inventory = describeInventory(pool.gpus, engine.location);
    const asked = `the session asks for ${describeGpuAsk(ask)}`;
    if (!pool.gpus.length) {
      throw new RequestError(409, `${asked}, but ${inventory}`, { fix: 'start the session without GPUs, or on a machine with NVIDIA GPUs (nvidia-smi on PATH)' });
    }
    const req = gpuRequirement(ask);
    const got = pool.allocate(id, req);
    if (got) return got;
    if (pool.impossible(req)) throw new RequestError(409, `${asked}, but ${inventory}`, { fix: 'ask for fewer GPUs or less memory' });
    const holders = pool.gpus.filter(g => pool.holder(g.index)).map(g => `#${g.index} by ${pool.holder(g.index)}`);
    throw new RequestError(409, `${asked}, but the GPUs that fit are in use (${holders.join(', ')}); ${inventory}`, { fix: 'stop a session that holds one, or wait for the runs on them to end' });
  }

  private holdSecrets(s: Session): void {
    const masker = new SecretMasker();
    for (const [name, v] of Object.entries(s.env)) if (isSecretEnvName(name)) masker.add(v);
    if (masker.size) this.secrets.hold(secretKey(s.id), masker);
  }

  private info(s: Session): SessionInfo {
    return {
      id: s.id,
      state: s.state,
      profile: s.profile,
      notebookPath: s.notebookPath,
      engine: s.engine.name,
      image: s.image.ref,
      ...(s.image.id ? { imageId: s.image.id } : {}),
      ...(s.ram !== undefined ? { ram: s.ram } : {}),
      ...(s.cpus !== undefined ? { cpus: s.cpus } : {}),
      gpus: s.gpus,
      createdAt: iso(s.createdAt),
      lastActivityAt: iso(s.lastActivityAt),
      executionCount: s.executionCount,
      ...(s.state === 'busy' && s.current ? { runningExecutionId: s.current.record.id } : {}),
      ...(s.python ? { python: s.python } : {}),
      ...(s.error ? { error: s.error } : {}),
      lastSeq: s.events.lastSeq
    };
  }
}

const secretKey = (sessionId: string) => `session:${sessionId}`;

/** nvidia-smi UUIDs where known, else indexes. */
function gpuIds(gpus: Gpu[]): string[] {
  return gpus.map(g => g.uuid || String(g.index));
}

/** An execution's record as it is now (a copy: the live one goes on changing). */
function snapshot(e: Execution): ExecutionRecord {
  const r = e.record;
  const outputs = r.outputs.map(o => ({ ...o }));
  return { ...r, outputs, outputHashes: isFinalExecutionState(r.state) ? [...r.outputHashes] : e.recorder.hashes(), image: { ...r.image }, gpus: [...r.gpus] };
}

/** A session no longer in memory, as its record has it. */
function infoFromRow(row: SessionRow): SessionInfo {
  return {
    id: row.id,
    state: row.state,
    profile: row.profile,
    notebookPath: row.notebookPath,
    engine: row.engine,
    image: row.spec.image.ref,
    ...(row.spec.image.id ? { imageId: row.spec.image.id } : {}),
    ...(row.spec.ram !== undefined ? { ram: row.spec.ram } : {}),
    ...(row.spec.cpus !== undefined ? { cpus: row.spec.cpus } : {}),
    gpus: row.spec.gpus,
    createdAt: iso(row.createdAt),
    lastActivityAt: iso(row.updatedAt),
    executionCount: row.executionCount,
    ...(row.python ? { python: row.python } : {}),
    ...(row.error ? { error: row.error } : {}),
    lastSeq: row.lastSeq
  };
}
