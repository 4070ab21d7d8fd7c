// A SessionService held in memory for the HTTP tests of the /sessions routes (the boundary
// the routes call; the real one is the bridge's SessionManager). The tests play the runner:
// start(), output() and finish() move executions and send events as the real one would.
import { newRunId } from '../../../src/store/ids';
import type { ExecuteRequest, ExecuteResponse, ExecutionRecord, NotebookOutput, SessionCreateRequest, SessionEventMessage, SessionInfo } from '../../../../src/red';
import { isFinalExecutionState, isFinalSessionState } from '../../../../src/red';
import { RequestError, type SessionService } from '../../../src/bridge/service';

type Sender = (m: SessionEventMessage) => void;
/** A message without its seq (the fake numbers them). */
type Unnumbered = SessionEventMessage extends infer M ? (M extends { seq: number } ? Omit<M, 'seq'> : never) : never;

interface FakeSession {
  info: SessionInfo;
  events: SessionEventMessage[];
  subscribers: Set<Sender>;
  executions: Map<string, ExecutionRecord>;
  waiters: Map<string, (() => void)[]>;
}

export class FakeSessionService implements SessionService {
  readonly sessions = new Map<string, FakeSession>();
  /** Every call the routes made, by method name and arguments. */
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** The signals of execution(…, {wait}) calls, in order. */
  readonly waitSignals: AbortSignal[] = [];
  /** Thrown by the next create() (a refusal the service makes). */
  refuseCreate: RequestError | undefined;

  private call(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  private emit(s: FakeSession, m: Unnumbered): SessionEventMessage {
    const msg = { ...m, seq: s.info.lastSeq + 1 } as SessionEventMessage;
    s.info.lastSeq = msg.seq;
    s.events.push(msg);
    for (const send of [...s.subscribers]) send(msg);
    return msg;
  }

  private setState(s: FakeSession, state: SessionInfo['state'], extra: Partial<SessionInfo> = {}): void {
    Object.assign(s.info, { state, ...extra, lastActivityAt: new Date().toISOString() });
    this.emit(s, { type: 'session', session: { ...s.info, lastSeq: s.info.lastSeq + 1 } });
  }

  async create(req: SessionCreateRequest): Promise<{ session: SessionInfo; created: boolean }> {
    this.call('create', req);
    if (this.refuseCreate) {
      const e = this.refuseCreate;
      this.refuseCreate = undefined;
      throw e;
    }
    const profile = req.profile ?? 'default';
    for (const s of this.sessions.values()) {
      if (s.info.notebookPath === req.notebookPath && s.info.profile === profile && !isFinalSessionState(s.info.state)) return { session: { ...s.info }, created: false };
    }
    const now = new Date().toISOString();
    const info: SessionInfo = {
      id: newRunId(),
      state: 'starting',
      profile,
      notebookPath: req.notebookPath,
      engine: req.engine ?? 'docker',
      image: req.image,
      ram: req.ram,
      cpus: req.cpus,
      gpus: [],
      createdAt: now,
      lastActivityAt: now,
      executionCount: 0,
      lastSeq: 0
    };
    const s: FakeSession = { info, events: [], subscribers: new Set(), executions: new Map(), waiters: new Map() };
    this.sessions.set(info.id, s);
    this.setState(s, 'starting');
    this.setState(s, 'idle', { python: '3.11.2' });
    return { session: { ...info }, created: true };
  }

  list(): SessionInfo[] {
    this.call('list');
    return [...this.sessions.values()].map(s => ({ ...s.info }));
  }

  get(id: string): SessionInfo | undefined {
    this.call('get', id);
    const s = this.sessions.get(id);
    return s && { ...s.info };
  }

  async stop(id: string): Promise<SessionInfo | undefined> {
    this.call('stop', id);
    const s = this.sessions.get(id);
    if (!s) return undefined;
    for (const r of s.executions.values()) if (!isFinalExecutionState(r.state)) this.finish(id, r.id, 'lost');
    if (!isFinalSessionState(s.info.state)) this.setState(s, 'stopped', { runningExecutionId: undefined });
    return { ...s.info };
  }

  private live(id: string): FakeSession {
    const s = this.sessions.get(id);
    if (!s) throw new RequestError(404, `no session ${id}`);
    if (isFinalSessionState(s.info.state)) throw new RequestError(409, `session ${id} is ${s.info.state}: start a new one`);
    return s;
  }

  execute(id: string, req: ExecuteRequest): ExecuteResponse {
    this.call('execute', id, req);
    const s = this.live(id);
    const record: ExecutionRecord = {
      id: newRunId(),
      sessionId: id,
      cellId: req.cellId,
      notebookPath: s.info.notebookPath,
      code: req.code,
      state: 'queued',
      outputs: [],
      outputHashes: [],
      image: { ref: s.info.image },
      gpus: [],
      queuedAt: new Date().toISOString()
    };
    s.executions.set(record.id, record);
    this.emit(s, { type: 'execution', executionId: record.id, cellId: req.cellId, state: 'queued' });
    return { executionId: record.id, state: 'queued' };
  }

  async execution(id: string, executionId: string, opts: { wait?: boolean; signal?: AbortSignal } = {}): Promise<ExecutionRecord | undefined> {
    this.call('execution', id, executionId, { wait: opts.wait });
    const s = this.sessions.get(id);
    const r = s?.executions.get(executionId);
    if (!s || !r) return undefined;
    if (opts.wait && !isFinalExecutionState(r.state)) {
      if (opts.signal) this.waitSignals.push(opts.signal);
      await new Promise<void>(resolve => {
        if (opts.signal?.aborted) return resolve();
        const list = s.waiters.get(executionId) ?? [];
        list.push(resolve);
        s.waiters.set(executionId, list);
        opts.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return structuredClone(r);
  }

  async interrupt(id: string): Promise<SessionInfo> {
    this.call('interrupt', id);
    const s = this.live(id);
    if (s.info.runningExecutionId) {
      this.output(id, { output_type: 'error', ename: 'KeyboardInterrupt', evalue: '', traceback: ['KeyboardInterrupt'] });
      this.finish(id, s.info.runningExecutionId, 'aborted');
    }
    return { ...s.info };
  }

  async restart(id: string): Promise<SessionInfo> {
    this.call('restart', id);
    const s = this.live(id);
    for (const r of s.executions.values()) if (!isFinalExecutionState(r.state)) this.finish(id, r.id, 'lost');
    this.setState(s, 'starting', { executionCount: 0, runningExecutionId: undefined });
    this.setState(s, 'idle');
    return { ...s.info };
  }

  subscribe(id: string, since: number, send: Sender): (() => void) | undefined {
    this.call('subscribe', id, since);
    const s = this.sessions.get(id);
    if (!s) return undefined;
    for (const m of s.events) if (m.seq > since) send(m);
    s.subscribers.add(send);
    return () => s.subscribers.delete(send);
  }

  // ---- the tests play the runner ----

  subscriberCount(id: string): number {
    return this.sessions.get(id)?.subscribers.size ?? 0;
  }

  start(id: string, executionId: string): void {
    const s = this.sessions.get(id)!;
    const r = s.executions.get(executionId)!;
    r.state = 'running';
    r.startedAt = new Date().toISOString();
    this.setState(s, 'busy', { runningExecutionId: executionId });
    this.emit(s, { type: 'execution', executionId, cellId: r.cellId, state: 'running' });
  }

  output(id: string, output: NotebookOutput, executionId: string | null = this.sessions.get(id)!.info.runningExecutionId ?? null): void {
    const s = this.sessions.get(id)!;
    if (executionId) s.executions.get(executionId)!.outputs.push(output);
    this.emit(s, { type: 'output', executionId, output });
  }

  finish(id: string, executionId: string, state: ExecutionRecord['state'] = 'ok'): void {
    const s = this.sessions.get(id)!;
    const r = s.executions.get(executionId)!;
    r.state = state;
    r.finishedAt = new Date().toISOString();
    if (state !== 'lost') r.executionCount = ++s.info.executionCount;
    this.emit(s, { type: 'execution', executionId, cellId: r.cellId, state, executionCount: r.executionCount });
    if (s.info.runningExecutionId === executionId) this.setState(s, 'idle', { runningExecutionId: undefined });
    for (const w of s.waiters.get(executionId) ?? []) w();
    s.waiters.delete(executionId);
  }
}
