// One WebSocket to one of the bridge's event streams that can be opened again: the
// socket and its retry timer, the backoff between tries (reset by an open), the URL read
// at every try (it carries the token, and the bridge's address may change), JSON
// messages parsed. What a drop means (list again, read the record, give up) is the
// owner's: RunsModel (runs/events) and RunStream (runs/{id}/events) decide in onClose.
//
// Callbacks come only from the socket in use: one this closed itself, or that a newer
// try replaced, is not heard from again.

/** Delays before each reconnect of an event socket (the last repeats). */
export const RECONNECT_DELAYS_MS: readonly number[] = [1000, 2000, 5000, 10000, 30000];

export interface EventSocketOptions<M> {
  /** The socket's URL, read at each try. */
  url: () => string;
  onOpen?: () => void;
  /** Each message that is JSON (others are dropped: nothing the owner could use). */
  onMessage: (message: M) => void;
  /** The socket closed without `close()` asking, or could not be made (`error`). */
  onClose: (error?: Error) => void;
  /** Delays before each reconnect (default RECONNECT_DELAYS_MS; the last repeats). */
  retryMs?: readonly number[];
  /** For tests: how a socket is made. */
  socket?: (url: string) => WebSocket;
}

export class EventSocket<M> {
  private ws: WebSocket | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private tries = 0;

  constructor(private readonly opts: EventSocketOptions<M>) {}

  /** Tries since the socket was last open (0: none failed yet). */
  get retries(): number {
    return this.tries;
  }

  /** Opens the socket now, as a fresh start (backoff from its first delay), closing one in use. */
  open(): void {
    this.close();
    this.tries = 0;
    this.connect();
  }

  /** Opens it again after `delayMs`, else after the backoff's next delay; returns the delay. */
  retry(delayMs?: number): number {
    const delays = this.opts.retryMs ?? RECONNECT_DELAYS_MS;
    const delay = delayMs ?? delays[Math.min(this.tries, delays.length - 1)];
    this.tries++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
    return delay;
  }

  /** Closes the socket (1000) and drops a pending retry; its callbacks stop. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= 1) ws.close(1000);
  }

  private connect(): void {
    let ws: WebSocket;
    try {
      const url = this.opts.url();
      ws = this.opts.socket ? this.opts.socket(url) : new WebSocket(url);
    } catch (err) {
      this.opts.onClose(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.tries = 0;
      this.opts.onOpen?.();
    };
    ws.onmessage = (m: MessageEvent) => {
      if (this.ws !== ws) return;
      let message: M;
      try {
        message = JSON.parse(String(m.data)) as M;
      } catch {
        return;
      }
      this.opts.onMessage(message);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.opts.onClose();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }
}
