// SessionsModel: the frontend's one owner of container sessions ("Run cell in container"):
// the sessions by notebook and profile, their state (as the bridge's events tell it), and
// the routing of each execution's events to the cell that waits for them. One events
// WebSocket per live session (EventSocket, reconnecting with since= the last seq seen), so
// a drop loses nothing the bridge still holds; when it held too little (a gap in seq, or a
// bridge that restarted its numbering) the executions affected are told to read their
// records instead. Views subscribe to `changed`.
import { Signal, type ISignal } from '@lumino/signaling';
import { BridgeError } from '../handler';
import { isFinalExecutionState, isFinalSessionState, type ExecutionState, type NotebookOutput, type SessionCreateRequest, type SessionEventMessage, type SessionInfo } from '../red';
import { EventSocket } from '../streaming/event-socket';
import type { SessionApi } from './session-handler';

/** What an execution's cell hears. */
export interface ExecutionListener {
  /** The bridge queued it under this id (called before any of its events). */
  started(executionId: string): void;
  output(output: NotebookOutput): void;
  /** running, then a final state (ok, error, aborted, lost). */
  state(state: ExecutionState, detail: { executionCount?: number; error?: string }): void;
  /** Some of its events are gone for good: read its record instead of waiting for them. */
  resync(): void;
}

/** Executions whose events arrive before their POST answered, kept until it does (the oldest go first). */
export const MAX_UNCLAIMED_EXECUTIONS = 16;

export class SessionEndedError extends Error {
  constructor(readonly session: SessionInfo) {
    super(
      session.state === 'dead'
        ? `the container session (profile "${session.profile}", ${session.image}) died: ${session.error ?? 'no reason given'}. Run the cell again to start a new one (its variables are gone).`
        : `the container session (profile "${session.profile}") was stopped. Run the cell again to start a new one.`
    );
    this.name = 'SessionEndedError';
  }
}

interface Tracked {
  info: SessionInfo;
  socket: EventSocket<SessionEventMessage>;
  lastSeq: number;
  connected: boolean;
  listeners: Map<string, ExecutionListener>;
  /** Events of executions nobody claimed yet (their POST has not answered). */
  unclaimed: Map<string, SessionEventMessage[]>;
  /** Output of no execution (a thread printing after its cell ended) goes to the last cell that ran. */
  lastListener?: ExecutionListener;
}

export interface SessionsModelOptions {
  api: SessionApi;
  /** For tests: how a socket is made. */
  socket?: (url: string) => WebSocket;
  retryMs?: readonly number[];
}

const keyOf = (notebookPath: string, profile: string) => `${notebookPath}\u0000${profile}`;

export class SessionsModel {
  private readonly byId = new Map<string, Tracked>();
  private readonly opening = new Map<string, Promise<SessionInfo>>();
  private readonly _changed = new Signal<this, void>(this);
  private disposed = false;

  constructor(private readonly opts: SessionsModelOptions) {}

  get api(): SessionApi {
    return this.opts.api;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Every session the model knows, the ended ones too (until opened again or dismissed). */
  get sessions(): SessionInfo[] {
    return [...this.byId.values()].map(t => t.info);
  }

  /** The sessions of one notebook, by profile name. */
  forNotebook(notebookPath: string): SessionInfo[] {
    return this.sessions.filter(s => s.notebookPath === notebookPath).sort((a, b) => a.profile.localeCompare(b.profile));
  }

  /** The notebook's session of a profile (live or ended), if the model has one. */
  find(notebookPath: string, profile: string): SessionInfo | undefined {
    const key = keyOf(notebookPath, profile);
    return this.sessions.find(s => keyOf(s.notebookPath, s.profile) === key);
  }

  get(id: string): SessionInfo | undefined {
    return this.byId.get(id)?.info;
  }

  /** Whether the session's events stream is open (false: reconnecting). */
  isConnected(id: string): boolean {
    return this.byId.get(id)?.connected ?? false;
  }

  /**
   * The live session of `request`'s notebook and profile: the one the model has, else the
   * bridge's (POST answers with a live one, or starts one). A live one on another image is
   * stopped first, so that the profile's image is the one cells run in.
   */
  open(request: SessionCreateRequest): Promise<SessionInfo> {
    const key = keyOf(request.notebookPath, request.profile ?? 'default');
    const pending = this.opening.get(key);
    if (pending) return pending;
    const p = this.openNow(request).finally(() => this.opening.delete(key));
    this.opening.set(key, p);
    return p;
  }

  private async openNow(request: SessionCreateRequest): Promise<SessionInfo> {
    const known = this.find(request.notebookPath, request.profile ?? 'default');
    if (known && !isFinalSessionState(known.state)) {
      if (known.image === request.image) return known;
      await this.stop(known.id);
    }
    if (known && isFinalSessionState(known.state)) this.drop(known.id);
    let info = await this.opts.api.create(request);
    // The bridge's live session of another image (a profile changed while this page was away).
    if (info.image !== request.image && !isFinalSessionState(info.state)) {
      await this.opts.api.stop(info.id);
      info = await this.opts.api.create(request);
    }
    this.track(info);
    return this.byId.get(info.id)?.info ?? info;
  }

  /**
   * Queues `code` in the session; `listener` hears its events (also those that came before
   * the bridge answered). Returns the execution's id. Throws SessionEndedError when the
   * session is over, BridgeError when the bridge refuses (404: it no longer has the session).
   */
  async execute(sessionId: string, code: string, cellId: string | undefined, listener: ExecutionListener): Promise<string> {
    const t = this.byId.get(sessionId);
    if (!t) throw new Error(`unknown session ${sessionId}`);
    if (isFinalSessionState(t.info.state)) throw new SessionEndedError(t.info);
    let executionId: string;
    try {
      ({ executionId } = await this.opts.api.execute(sessionId, code, cellId));
    } catch (err) {
      if (err instanceof BridgeError && err.status === 404) this.drop(sessionId);
      throw err;
    }
    t.listeners.set(executionId, listener);
    t.lastListener = listener;
    listener.started(executionId);
    const early = t.unclaimed.get(executionId) ?? [];
    t.unclaimed.delete(executionId);
    for (const m of early) this.deliver(t, m);
    // The session ended while the POST was on its way, and nothing will say so for this one.
    if (isFinalSessionState(t.info.state) && t.listeners.has(executionId)) this.loseAll(t);
    return executionId;
  }

  /** The cell no longer waits for this execution. */
  forget(sessionId: string, executionId: string): void {
    this.byId.get(sessionId)?.listeners.delete(executionId);
  }

  async interrupt(id: string): Promise<void> {
    this.update(await this.opts.api.interrupt(id), true);
  }

  /** A new container under the same id: the namespace is gone, queued cells are lost. */
  async restart(id: string): Promise<void> {
    this.update(await this.opts.api.restart(id), true);
  }

  /** Stops the session (an ended one is only dismissed). */
  async stop(id: string): Promise<void> {
    const t = this.byId.get(id);
    if (t && isFinalSessionState(t.info.state)) return this.drop(id);
    try {
      const info = await this.opts.api.stop(id);
      if (info) this.update(info, true);
    } catch (err) {
      if (!(err instanceof BridgeError && err.status === 404)) throw err;
    }
    this.drop(id);
  }

  /** Adopts the bridge's live sessions (after a page reload, or a bridge that came back). */
  async refresh(): Promise<void> {
    // Only sessions known before the list was asked for can be missing from it: one opened
    // while the list was on its way is not in it, and is not gone.
    const known = new Set(this.byId.keys());
    const listed = await this.opts.api.list();
    for (const info of listed) {
      if (this.byId.has(info.id)) this.update(info, true);
      else if (!isFinalSessionState(info.state)) this.track(info);
    }
    // Live ones the bridge no longer lists are gone (a bridge restart without them).
    for (const t of [...this.byId.values()]) {
      if (known.has(t.info.id) && !isFinalSessionState(t.info.state) && !listed.some(s => s.id === t.info.id)) this.vanished(t);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.byId.values()) t.socket.close();
    this.byId.clear();
    Signal.clearData(this);
  }

  // -- events --------------------------------------------------------------

  private track(info: SessionInfo): void {
    const had = this.byId.get(info.id);
    if (had) return this.update(info);
    // Another session of the same notebook and profile is replaced.
    const same = this.find(info.notebookPath, info.profile);
    if (same) this.drop(same.id);
    const t: Tracked = {
      info,
      lastSeq: info.lastSeq ?? 0,
      connected: false,
      listeners: new Map(),
      unclaimed: new Map(),
      socket: new EventSocket<SessionEventMessage>({
        url: () => this.opts.api.eventsUrl(info.id, t.lastSeq),
        socket: this.opts.socket,
        retryMs: this.opts.retryMs,
        onOpen: () => {
          t.connected = true;
          this.emit();
          void this.check(t);
        },
        onMessage: m => this.onMessage(t, m),
        onClose: () => {
          t.connected = false;
          this.emit();
          if (this.byId.get(t.info.id) === t && !isFinalSessionState(t.info.state)) t.socket.retry();
        }
      })
    };
    this.byId.set(info.id, t);
    this.emit();
    if (!isFinalSessionState(info.state)) t.socket.open();
  }

  /** After a (re)connect: the bridge still has the session, with the numbering this model follows. */
  private async check(t: Tracked): Promise<void> {
    // Seqs never go down: one below what was seen before this open means a new numbering.
    const seenBefore = t.lastSeq;
    let info: SessionInfo;
    try {
      info = await this.opts.api.get(t.info.id);
    } catch (err) {
      if (err instanceof BridgeError && err.status === 404 && this.byId.get(t.info.id) === t) this.vanished(t);
      return;
    }
    if (this.byId.get(t.info.id) !== t) return;
    if (typeof info.lastSeq === 'number' && info.lastSeq < seenBefore) {
      // A bridge that numbers anew (it restarted): follow from its number; what was missed is read from records.
      t.lastSeq = info.lastSeq;
      for (const l of t.listeners.values()) l.resync();
      t.socket.open();
    }
    this.update(info, true);
  }

  private onMessage(t: Tracked, m: SessionEventMessage): void {
    if (!m || typeof m.seq !== 'number' || m.seq <= t.lastSeq) return;
    const gap = m.seq > t.lastSeq + 1;
    t.lastSeq = m.seq;
    if (gap) {
      t.unclaimed.clear();
      for (const l of t.listeners.values()) l.resync();
    }
    if (m.type === 'session') {
      if (m.session?.id === t.info.id) this.update(m.session);
      return;
    }
    this.deliver(t, m);
  }

  private deliver(t: Tracked, m: SessionEventMessage): void {
    if (m.type === 'session') return;
    const id = m.executionId;
    if (m.type === 'output' && id === null) {
      t.lastListener?.output(m.output);
      return;
    }
    if (typeof id !== 'string') return;
    const l = t.listeners.get(id);
    if (!l) {
      const list = t.unclaimed.get(id) ?? [];
      list.push(m);
      t.unclaimed.set(id, list);
      while (t.unclaimed.size > MAX_UNCLAIMED_EXECUTIONS) t.unclaimed.delete(t.unclaimed.keys().next().value as string);
      return;
    }
    if (m.type === 'output') l.output(m.output);
    else {
      if (isFinalExecutionState(m.state)) t.listeners.delete(id);
      l.state(m.state, { executionCount: m.executionCount, error: m.error });
    }
  }

  /**
   * A session's new info, from an event or (`fromRest`) a REST answer. A REST answer older than
   * the events already seen (its lastSeq below theirs: e.g. interrupt's "busy" arriving after
   * the event that said idle) changes nothing.
   */
  private update(info: SessionInfo, fromRest = false): void {
    const t = this.byId.get(info.id);
    if (!t) return;
    if (fromRest && typeof info.lastSeq === 'number' && info.lastSeq < t.lastSeq) return;
    // dead and stopped are final: an answer older than the event that ended it changes nothing.
    if (isFinalSessionState(t.info.state) && !isFinalSessionState(info.state)) return;
    const ended = !isFinalSessionState(t.info.state) && isFinalSessionState(info.state);
    t.info = info;
    if (isFinalSessionState(info.state)) {
      t.socket.close();
      t.connected = false;
      if (ended || t.listeners.size) this.loseAll(t);
    }
    this.emit();
  }

  /** The session ended: every execution still waiting is lost, with the session's reason. */
  private loseAll(t: Tracked): void {
    const why = t.info.state === 'dead' ? (t.info.error ?? 'the container ended') : 'the session was stopped';
    const waiting = [...t.listeners.values()];
    t.listeners.clear();
    for (const l of waiting) l.state('lost', { error: why });
  }

  /** The bridge no longer has a live session this model follows. */
  private vanished(t: Tracked): void {
    this.update({ ...t.info, state: 'stopped', error: 'the bridge no longer has this session (it restarted without it)' });
  }

  private drop(id: string): void {
    const t = this.byId.get(id);
    if (!t) return;
    t.socket.close();
    if (t.listeners.size) {
      const info = isFinalSessionState(t.info.state) ? t.info : { ...t.info, state: 'stopped' as const };
      t.info = info;
      this.loseAll(t);
    }
    this.byId.delete(id);
    this.emit();
  }

  private emit(): void {
    if (!this.disposed) this._changed.emit();
  }
}
