// A run's follower: every event after a seq, then each new one, exactly once and in seq
// order, awaiting `send` (so a slow WebSocket slows the replay, not the run). It
// subscribes before it reads the database, so no event falls between the replay and the
// live ones, and it skips what it already sent; a consumer too slow for the live events
// goes back to reading the database (bounded memory, still every event).
import type { RunState } from '../../../src/red';
import { stripData, type RunListener } from './event-hub';
import { isRunFinalEvent } from './transitions';
import { RunNotFoundError, isFinalState, type StoredEvent } from './types';

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

/** What a follower reads: the run store's events, live and stored. */
export interface FollowSource {
  subscribe(runId: string, listener: RunListener): () => void;
  eventsSince(runId: string, sinceSeq: number, limit: number): StoredEvent[];
  logEventsData(runId: string, events: readonly StoredEvent[]): StoredEvent[];
  /** The run's state, undefined when there is no such run. */
  findState(runId: string): RunState | undefined;
  isOpen(): boolean;
  /** The stop functions of the followers running: closing the store stops them. */
  readonly followers: Set<() => void>;
}

export function follow(
  source: FollowSource,
  runId: string,
  sinceSeq: number,
  send: (e: StoredEvent) => void | Promise<void>,
  opts: FollowOptions = {}
): Follower {
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
  const listener: RunListener = e => {
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
  const unsubscribe = source.subscribe(runId, listener);

  // Catching up: read pages from the database until one is empty. Live: send buffered
  // events in order, skipping seq <= last. With stopWhenFinal, a final state event
  // sends the follower back to catching up once more (events committed after it, e.g.
  // late log lines, are sent too), and the empty page then ends it.
  const pump = async (): Promise<void> => {
    while (!stopped) {
      if (catchingUp) {
        if (!source.isOpen()) break;
        const page = source.eventsSince(runId, last, pageSize);
        if (!page.length) {
          catchingUp = false;
          const state = source.findState(runId);
          if (state === undefined) throw new RunNotFoundError(runId);
          if (opts.stopWhenFinal && isFinalState(state)) break;
          continue;
        }
        for (const e of withData ? source.logEventsData(runId, page) : page) {
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
      if (opts.stopWhenFinal && isRunFinalEvent(e)) catchingUp = true;
    }
    if (failed) throw failed;
  };
  const stop = () => {
    stopped = true;
    poke();
  };
  source.followers.add(stop);
  const done = pump().finally(() => {
    stopped = true;
    unsubscribe();
    source.followers.delete(stop);
  });
  return {
    stop,
    done,
    get lastSeq() {
      return last;
    }
  };
}
