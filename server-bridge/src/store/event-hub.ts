// Who hears of the run store's committed events: the listeners of one run (with log
// events' data), the listeners of all runs (without it: run lists need no log text), and
// those told of deletions. A listener that throws is reported and the others still hear.
import type { StoredEvent, StoredLogEvent } from './types';

export type EventListener = (event: StoredEvent) => void;
export type AnyEventListener = (event: StoredEvent) => void;
/** A follower's listener also hears of the run's deletion. */
export type RunListener = EventListener & { deleted?: () => void };

export class EventHub {
  private readonly listeners = new Map<string, Set<RunListener>>();
  private readonly anyListeners = new Set<AnyEventListener>();
  /** Told the id of each run deleted (a deletion is no event: the run's events go with it). */
  private readonly deletionListeners = new Set<(runId: string) => void>();

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  subscribe(runId: string, listener: RunListener): () => void {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      const s = this.listeners.get(runId);
      if (!s) return;
      s.delete(listener);
      if (!s.size) this.listeners.delete(runId);
    };
  }

  subscribeAll(listener: AnyEventListener): () => void {
    this.anyListeners.add(listener);
    return () => void this.anyListeners.delete(listener);
  }

  subscribeDeletions(listener: (runId: string) => void): () => void {
    this.deletionListeners.add(listener);
    return () => void this.deletionListeners.delete(listener);
  }

  /** Whether anyone would hear of the run's events (else log data need not be decoded). */
  hasListeners(runId: string): boolean {
    return this.anyListeners.size > 0 || (this.listeners.get(runId)?.size ?? 0) > 0;
  }

  notify(e: StoredEvent): void {
    const set = this.listeners.get(e.runId);
    if (set) for (const l of [...set]) this.safeCall(() => l(e));
    if (this.anyListeners.size) {
      const plain = stripData(e);
      for (const l of [...this.anyListeners]) this.safeCall(() => l(plain));
    }
  }

  /** Tells the run's followers, then the deletion listeners, that the run is gone. */
  notifyDeleted(runId: string): void {
    for (const l of [...(this.listeners.get(runId) ?? [])]) this.safeCall(() => l.deleted?.());
    for (const l of [...this.deletionListeners]) this.safeCall(() => l(runId));
  }

  clear(): void {
    this.listeners.clear();
    this.anyListeners.clear();
    this.deletionListeners.clear();
  }

  private safeCall(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.onListenerError(err);
    }
  }
}

/** The event without the `data` of a log event. */
export function stripData(e: StoredEvent): StoredEvent {
  if (e.event.type !== 'log' || (e.event as StoredLogEvent).data === undefined) return e;
  const { data: _data, ...rest } = e.event as StoredLogEvent;
  return { ...e, event: rest };
}
