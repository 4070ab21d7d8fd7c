// RunsModel: the bridge's run list, the one owner of it on the frontend. Fed by the
// bridge's stream of run changes (WebSocket runs/events: a run's summary each time it
// changes), with one REST list each time that stream (re)opens, since it replays nothing.
// Run cells add what their own streams tell (noteRunState), so the status bar and the
// history move at once; a run the bridge deleted leaves the list at once too. When the
// stream drops it reconnects with backoff (EventSocket); while it is down, `refresh` (the
// slow health poll calls it) lists instead.
import { Signal, type ISignal } from '@lumino/signaling';
import type { BridgeApi } from './api';
import { isFinalState, type RunsStreamMessage, type RunSummary, type RunState } from './red';
import { EventSocket } from './streaming/event-socket';
import { countRuns, mergeListed, stateRank, withRunState, withSummary } from './streaming/run-list';

/** Runs a REST list asks for. */
export const LISTED_RUNS = 100;

export interface RunsModelOptions {
  api: BridgeApi;
  /** For tests: how a socket is made. */
  socket?: (url: string) => WebSocket;
  /** Delays before each reconnect (the last repeats). */
  retryMs?: readonly number[];
}

export class RunsModel {
  private _runs: readonly RunSummary[] = [];
  private readonly socket: EventSocket<RunsStreamMessage>;
  private _live = false;
  private _disposed = false;
  /** States the event streams told before a list had them (run id → state). */
  private readonly seen = new Map<string, RunState>();
  /** Runs the bridge said it deleted: a list asked for before that, or a late state, brings none back. */
  private readonly deleted = new Set<string>();
  private readonly _runsChanged = new Signal<this, readonly RunSummary[]>(this);
  private readonly _liveChanged = new Signal<this, boolean>(this);

  constructor(private readonly opts: RunsModelOptions) {
    this.socket = new EventSocket<RunsStreamMessage>({
      url: () => opts.api.runsEventsUrl(),
      socket: opts.socket,
      retryMs: opts.retryMs,
      onOpen: () => {
        this.setLive(true);
        // The stream replays nothing: what happened while it was closed comes from one list.
        void this.refresh();
      },
      onMessage: message => this.applyChange(message),
      onClose: () => {
        this.setLive(false);
        this.socket.retry();
      }
    });
  }

  get runs(): readonly RunSummary[] {
    return this._runs;
  }

  get runsChanged(): ISignal<this, readonly RunSummary[]> {
    return this._runsChanged;
  }

  /** Whether the bridge's stream of run changes is open (the list is current without polling). */
  get live(): boolean {
    return this._live;
  }

  get liveChanged(): ISignal<this, boolean> {
    return this._liveChanged;
  }

  /** Runs queued and on their way. */
  get counts(): { queued: number; running: number } {
    return countRuns(this._runs);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Opens the stream of run changes (listing once it is open). */
  start(): void {
    if (this._disposed) return;
    this.socket.open();
  }

  /** Closes the stream (e.g. before the bridge's address changes); `start` opens it again. */
  stop(): void {
    this.socket.close();
    this.setLive(false);
  }

  /** Lists the runs over REST, merged with what the streams told since. */
  async refresh(): Promise<readonly RunSummary[]> {
    try {
      const page = await this.opts.api.list({ limit: LISTED_RUNS });
      if (this._disposed) return this._runs;
      // A list asked for before a change may answer after it: merged, states only go forward.
      let runs: readonly RunSummary[] = mergeListed(
        page.runs.filter(r => !this.deleted.has(r.id)),
        this.seen
      );
      // What the stream brought while the list was on its way: newer summaries, and runs
      // created since (newer than the page's newest); withSummary keeps the newer of two.
      const newest = page.runs[0]?.id ?? '';
      for (const r of this._runs) if (r.id > newest || runs.some(l => l.id === r.id)) runs = withSummary(runs, r);
      for (const r of runs) if (isFinalState(r.state)) this.seen.delete(r.id);
      this.setRuns(runs);
    } catch {
      /* the health poll reports an unreachable bridge */
    }
    return this._runs;
  }

  /**
   * A run's state as its own event stream just told it (run cells): the list follows at
   * once, also for a run it does not have yet.
   */
  noteRunState(runId: string, state: RunState): void {
    if (this.deleted.has(runId)) return;
    const seen = this.seen.get(runId);
    if (!seen || stateRank(state) > stateRank(seen)) this.seen.set(runId, state);
    const listed = this._runs.some(r => r.id === runId);
    this.setRuns(withRunState(this._runs, runId, state));
    // Not listed and no stream to bring the rest (notebook, times): ask.
    if (!listed && !this._live) void this.refresh();
  }

  /** A change the bridge sent: a run's new summary, or a run deleted. */
  applyChange(message: RunsStreamMessage): void {
    if (message?.type === 'run-deleted' && typeof message.id === 'string') {
      this.deleted.add(message.id);
      this.seen.delete(message.id);
      this.setRuns(this._runs.filter(r => r.id !== message.id));
      return;
    }
    if (message?.type !== 'run' || !message.run?.id || this.deleted.has(message.run.id)) return;
    this.setRuns(withSummary(this._runs, message.run));
    if (isFinalState(message.run.state)) this.seen.delete(message.run.id);
  }

  dispose(): void {
    if (this._disposed) return;
    this.stop();
    this._disposed = true;
    Signal.clearData(this);
  }

  private setLive(live: boolean): void {
    if (live === this._live) return;
    this._live = live;
    if (!this._disposed) this._liveChanged.emit(live);
  }

  private setRuns(runs: readonly RunSummary[]): void {
    if (runs === this._runs || JSON.stringify(runs) === JSON.stringify(this._runs)) return;
    this._runs = runs;
    this._runsChanged.emit(runs);
  }
}
