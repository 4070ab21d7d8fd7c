// One run's event stream: a WebSocket to runs/{id}/events?since=N that feeds the pure
// reducer, reconnects after `since` when the connection drops (no gap, no duplicate),
// and after the final state fetches the output previews. The run's result (exit code,
// outputs) comes in its `result` event, just before the final state; only a run that
// ended without one (failed before it ran, or a bridge that does not send it) has its
// record read once instead. It knows nothing of cells: run-cell.ts writes its state into one.
//
// Through jupyter-server-proxy the close code does not survive (1005), so the end of a
// run is known from its final state event, not from the socket closing.
import { Signal, type ISignal } from '@lumino/signaling';
import { BridgeApi } from '../api';
import { BridgeError, type BridgeClient } from '../handler';
import { isFinalState, type StoredEvent } from '../red';
import { EventSocket } from './event-socket';
import { fetchPreview } from './fetch-previews';
import { applyConnection, applyEvent, applyLost, applyPreview, applyRecord, isFinished } from './reducer';
import type { ReducerOptions, RunCellState } from './types';

export interface RunStreamOptions {
  client: BridgeClient;
  initial: RunCellState;
  /** Read at every event: settings may change while a run streams. */
  reducerOptions: () => ReducerOptions;
  previewTypes: () => readonly string[];
  /** The bridge cannot be reached (to tell the user once, where they look). */
  onBridgeDown?: (message: string) => void;
  /** For tests: how a socket is made. */
  socket?: (url: string) => WebSocket;
}

export class RunStream {
  private _state: RunCellState;
  private readonly socket: EventSocket<StoredEvent>;
  private finishing = false;
  private _disposed = false;
  private readonly _stateChanged = new Signal<this, RunCellState>(this);
  private readonly _finished = new Signal<this, RunCellState>(this);
  private readonly api: BridgeApi;

  constructor(private readonly opts: RunStreamOptions) {
    this._state = opts.initial;
    this.api = new BridgeApi(opts.client);
    this.socket = new EventSocket<StoredEvent>({
      // After the last event applied: a reconnect replays nothing twice and misses nothing.
      url: () => this.api.runEventsUrl(this.runId, this._state.since),
      socket: opts.socket,
      onOpen: () => this.set(applyConnection(this._state, 'live')),
      onMessage: msg => this.onEvent(msg),
      onClose: error => {
        if (this._disposed || this.finishing) return;
        if (error) this.scheduleRetry(`cannot open the event stream: ${error.message}`);
        else void this.afterClose();
      }
    });
  }

  get state(): RunCellState {
    return this._state;
  }

  get runId(): string {
    return this._state.runId;
  }

  get stateChanged(): ISignal<this, RunCellState> {
    return this._stateChanged;
  }

  /** Emitted once, when the final state, the record and the previews are in. */
  get finished(): ISignal<this, RunCellState> {
    return this._finished;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  start(): void {
    if (isFinished(this._state)) {
      void this.finish();
      return;
    }
    // Image and GPUs, before the first event says anything.
    void this.readRecord(false);
    this.socket.open();
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.socket.close();
    Signal.clearData(this);
  }

  private set(next: RunCellState): void {
    if (next === this._state || this._disposed) return;
    this._state = next;
    this._stateChanged.emit(next);
  }

  private onEvent(msg: StoredEvent): void {
    this.set(applyEvent(this._state, msg, this.opts.reducerOptions()));
    // Ends at the run's own final state event: the record read at start may already say the
    // run is final, and the events before this one (logs) must still come in.
    const e = msg.event;
    if (e?.type === 'state' && e.batch === undefined && isFinalState(e.state)) void this.finish();
  }

  /** The socket closed before the final state: the run may be gone, or the bridge down. */
  private async afterClose(): Promise<void> {
    try {
      const record = await this.api.get(this.runId);
      if (this._disposed) return;
      this.set(applyRecord(this._state, record));
      // Final, and every event is in (the socket closed after the final state): done.
      if (isFinalState(record.state) && this._state.since >= record.lastSeq) {
        void this.finish();
        return;
      }
      // Alive: take up the stream again at once (it replays what came after `since`).
      this.scheduleRetry('the event stream closed; reconnecting', this.socket.retries === 0 ? 0 : undefined);
    } catch (err) {
      if (this._disposed) return;
      if (err instanceof BridgeError && err.status === 404) {
        this.set(applyLost(this._state, `the bridge no longer knows run ${this.runId} (deleted, or started by another bridge)`));
        void this.finish();
        return;
      }
      const message = err instanceof BridgeError && err.status === 0 ? 'the RED Lab bridge cannot be reached' : (err as Error).message;
      this.opts.onBridgeDown?.(message);
      this.scheduleRetry(`${message}; trying again`);
    }
  }

  private scheduleRetry(message: string, delayMs?: number): void {
    if (this._disposed) return;
    const delay = this.socket.retry(delayMs);
    this.set(applyConnection(this._state, 'retrying', delay ? `${message} in ${Math.round(delay / 1000)} s` : message));
  }

  private async readRecord(final: boolean): Promise<boolean> {
    try {
      const record = await this.api.get(this.runId);
      if (final && !isFinalState(record.state)) return false;
      this.set(applyRecord(this._state, record));
      return true;
    } catch (err) {
      if (final && err instanceof BridgeError && err.status === 404) {
        this.set(applyLost(this._state, `the bridge no longer knows run ${this.runId}`));
        return true;
      }
      return false;
    }
  }

  private async finish(): Promise<void> {
    if (this.finishing || this._disposed) return;
    this.finishing = true;
    this.socket.close();
    // No result event with the result: the record, final by now (the final state event is
    // committed with it), tells what there is.
    if (!this._state.recordLoaded) await this.readRecord(true);
    const enabled = this.opts.previewTypes();
    await Promise.all(
      this._state.artifacts
        .filter(a => !a.preview)
        .map(async a => {
          const preview = await fetchPreview(this.api, this.runId, a, enabled, a.file);
          if (preview) this.set(applyPreview(this._state, a.name, a.batch, preview));
        })
    );
    this.set(applyConnection(this._state, 'closed'));
    if (!this._disposed) this._finished.emit(this._state);
  }
}
