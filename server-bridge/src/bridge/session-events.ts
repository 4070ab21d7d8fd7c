// A session's events (WebSocket /sessions/{id}/events?since=SEQ), numbered 1, 2, … and
// kept in memory up to a bound (the last N events and M bytes), with live subscribers. A
// subscriber whose `since` is older than what is held (or from before a bridge restart,
// past the last seq) first gets a `session` message with the session as it is now, then
// what is held.
import type { SessionEventMessage, SessionInfo } from '../../../src/red';

/** An event before it gets its number. */
export type SessionEvent = SessionEventMessage extends infer M ? (M extends { seq: number } ? Omit<M, 'seq'> : never) : never;

export interface EventLogLimits {
  /** Events held (default 10 000). */
  events: number;
  /** Their approximate size in bytes (default 32 MB). */
  bytes: number;
}

export const DEFAULT_EVENT_LIMITS: EventLogLimits = { events: 10_000, bytes: 32 * 1024 * 1024 };

/** Seqs reserved at a time (see SessionEventLog's `reserve`). */
export const SEQ_BLOCK = 1000;

/** About what an event costs in memory and on the wire. */
function sizeOf(e: SessionEventMessage): number {
  if (e.type === 'output') {
    const text = (e.output as { text?: unknown }).text;
    return typeof text === 'string' && e.output.output_type === 'stream' ? text.length * 2 + 100 : JSON.stringify(e.output).length * 2 + 100;
  }
  return 400;
}

export class SessionEventLog {
  private readonly held: { message: SessionEventMessage; size: number }[] = [];
  /** Index in `held` of the oldest kept event (the array is compacted now and then). */
  private head = 0;
  private bytes = 0;
  private seq: number;
  /** Seqs up to here may be used without asking `reserve` again. */
  private ceiling: number;
  private readonly subscribers = new Set<(m: SessionEventMessage) => void>();

  /**
   * `lastSeq`: where numbering goes on (a reattached session's stored ceiling). `reserve` is
   * told a new ceiling before any seq above the last one is used (one call per SEQ_BLOCK
   * events): stored, it lets a restarted bridge number on above every seq a subscriber
   * may have seen, without a write per event.
   */
  constructor(
    lastSeq = 0,
    private readonly limits: EventLogLimits = DEFAULT_EVENT_LIMITS,
    private readonly reserve?: (ceiling: number) => void
  ) {
    this.seq = lastSeq;
    this.ceiling = lastSeq;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Seq of the oldest event held (lastSeq + 1 when none). */
  get firstSeq(): number {
    return this.head < this.held.length ? this.held[this.head].message.seq : this.seq + 1;
  }

  /** Numbers `e`, keeps it, and sends it to every subscriber; returns it. */
  push(e: SessionEvent): SessionEventMessage {
    if (this.seq >= this.ceiling) {
      this.ceiling = this.seq + SEQ_BLOCK;
      this.reserve?.(this.ceiling);
    }
    const message = { ...e, seq: ++this.seq } as SessionEventMessage;
    const size = sizeOf(message);
    this.held.push({ message, size });
    this.bytes += size;
    while (this.held.length - this.head > 1 && (this.held.length - this.head > this.limits.events || this.bytes > this.limits.bytes)) {
      this.bytes -= this.held[this.head].size;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.held.length) {
      this.held.splice(0, this.head);
      this.head = 0;
    }
    for (const send of [...this.subscribers]) this.deliver(send, message);
    return message;
  }

  /**
   * Sends what is held after `since` (behind a `session` message from `snapshot` when some
   * events after `since` were dropped, or `since` is from another numbering), then every
   * new event, until the returned function is called.
   */
  subscribe(since: number, send: (m: SessionEventMessage) => void, snapshot: () => SessionInfo): () => void {
    const first = this.firstSeq;
    if (since < first - 1 || since > this.seq) {
      // Numbered just before what follows, so seq still only grows for this subscriber.
      if (!this.deliver(send, { seq: first - 1, type: 'session', session: { ...snapshot(), lastSeq: this.seq } })) return () => undefined;
    }
    const from = since > this.seq ? 0 : since;
    for (let i = this.head; i < this.held.length; i++) {
      const m = this.held[i].message;
      if (m.seq > from && !this.deliver(send, m)) return () => undefined;
    }
    this.subscribers.add(send);
    return () => {
      this.subscribers.delete(send);
    };
  }

  /** Ends every subscription (the session is gone from memory, or the bridge stops). */
  close(): void {
    this.subscribers.clear();
  }

  /** A subscriber that throws is dropped (its connection is gone). */
  private deliver(send: (m: SessionEventMessage) => void, m: SessionEventMessage): boolean {
    try {
      send(m);
      return true;
    } catch {
      this.subscribers.delete(send);
      return false;
    }
  }
}
