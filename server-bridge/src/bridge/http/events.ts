// WebSocket /api/v1/runs/{id}/events?since=SEQ: a run's stored events, then its live
// ones, one JSON message each ({seq, at, event}; log events carry their data as UTF-8
// text, the result event the run's result as GET /runs/{id} has it, so a client reads no
// record after the final state), with no gap and no duplicate, through RunStore.follow.
// A client that reconnects with since=<last seq it saw> continues exactly where it was.
//
// Backpressure: after each message, while the socket holds more than `highWaterMark`
// bytes not yet sent, the sender waits for it to drain; follow() meanwhile keeps at
// most `maxBuffered` live events and, past that, drops them and reads them from the
// database again later. A slow client therefore costs bounded memory and still gets
// every event.
//
// The socket closes with 1000 once the run's final state has been sent (events written
// after it, such as late log lines, come first), with 4404 for an unknown or deleted
// run, with 1001 when the bridge stops. Refusals before the upgrade are plain HTTP
// answers with a JSON body: 401 (token), 403 (origin), 400 (since), 404 (path), 503.
//
// WebSocket /api/v1/runs/events: every run's summary each time it changes (created,
// a new run state, its result), one JSON message each ({type: "run", run}), from the
// store's subscribeAll, and each run deleted ({type: "run-deleted", id}, from its
// subscribeDeletions), for the frontend's run list. It replays nothing: a client lists
// the runs over REST once it is open (and again after each reconnect). A client that
// falls more than `highWaterMark` bytes behind is dropped (it reconnects and lists).
// Same token and Origin checks as a run's events.
//
// Other WebSocket routes (a session's events, http/session-events.ts) are added with
// addRoute: they pass the same gates, socket limit, keepalive and closing.
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { isRunId } from '../../store/ids';
import { RunNotFoundError, isFinalState, type RunsStreamMessage, type StoredEvent } from '../../store/types';
import type { RunStore } from '../../store';
import { bearerToken, originMessage, WS_AUTH_MESSAGE, type OriginPolicy, type TokenChecker } from './auth';
import { serializeRequest } from './logger';

export interface EventSocketOptions {
  /** Bytes queued on a socket above which sending pauses until it drains (default 1 MiB). */
  highWaterMark?: number;
  /** Keepalive ping interval; a client that misses a pong by the next ping is dropped (default 30 s). */
  pingIntervalMs?: number;
  /** Events read from the database at a time while catching up (default 16). */
  pageSize?: number;
  /** Live events held while a client is slow, before falling back to the database (default 32). */
  maxBuffered?: number;
  /** Open event sockets at most (default 256); more get 503. */
  maxClients?: number;
  /** A session's events socket: bytes queued on it before it is closed (4008, reconnect with since=; default 16 MiB). */
  maxQueuedBytes?: number;
}

export interface EventSocketStats {
  clients: number;
  /** Largest `bufferedAmount` seen on any socket right after a send. */
  peakBufferedAmount: number;
}

const PATH = /^\/api\/v1\/runs\/([^/]*)\/events\/?$/;
/** Every run's summary changes (see the header); matched before PATH. */
const RUNS_PATH = /^\/api\/v1\/runs\/events\/?$/;

/** Run-level events that change a run's summary: its creation and state changes (state), its result. */
const changesSummary = (e: StoredEvent): boolean => (e.event.type === 'state' && (e.event as { batch?: number }).batch === undefined) || e.event.type === 'result';

class ClientGone extends Error {}

/** A WebSocket route beside the runs' ones: EventSockets applies the gates, then hands it the open socket. */
export interface EventRoute {
  /** Its path; the groups go to serve. */
  path: RegExp;
  /** How the 404 for an unknown path names it, e.g. "a session's events at /api/v1/sessions/{id}/events?since=SEQ". */
  describe: string;
  /** Query parameters it takes besides token. */
  params: readonly string[];
  /** Checks the query before the upgrade; a message refuses it with 400. */
  checkQuery?(query: URLSearchParams): string | undefined;
  /** Serves the open socket (pings, the socket limit and closing are EventSockets'). */
  serve(ws: WebSocket, match: RegExpExecArray, url: URL, req: IncomingMessage): void;
}

/** A path segment as sent, percent-decoded where it can be. */
export function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Writes an HTTP error answer on a socket that asked for an upgrade, and closes it. */
function refuse(socket: Duplex, status: number, message: string, extra: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: message });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`)
  ];
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(head.join('\r\n') + '\r\n\r\n' + body);
  socket.once('finish', () => socket.destroy());
}

/** A close reason within the 123 bytes WebSocket allows. */
export const reasonOf = (s: string) => (Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '…');

export class EventSockets {
  private readonly wss: WebSocketServer;
  private readonly clients = new Map<WebSocket, { alive: boolean }>();
  private readonly timer: NodeJS.Timeout;
  private readonly hwm: number;
  private readonly pageSize: number;
  private readonly maxBuffered: number;
  private readonly maxClients: number;
  private closing = false;
  private peak = 0;
  /** Clients of /runs/events, and the store subscriptions that feed them while there are any. */
  private readonly runClients = new Set<WebSocket>();
  private unsubscribeRuns: (() => void) | undefined;
  private readonly routes: EventRoute[] = [];

  constructor(
    private readonly store: RunStore,
    private readonly tokens: TokenChecker,
    private readonly origins: OriginPolicy,
    private readonly log: Logger,
    opts: EventSocketOptions = {}
  ) {
    this.hwm = opts.highWaterMark ?? 1024 * 1024;
    this.pageSize = opts.pageSize ?? 16;
    this.maxBuffered = opts.maxBuffered ?? 32;
    this.maxClients = opts.maxClients ?? 256;
    // Clients send nothing the bridge needs: a tiny payload limit, no compression (no zip bombs).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false, clientTracking: false });
    // A broken handshake (bad key, version) gets the same JSON answer as every other refusal.
    this.wss.on('wsClientError', (err: Error, socket: Duplex) => refuse(socket, 400, `not a valid WebSocket handshake: ${err.message}`));
    this.timer = setInterval(() => this.heartbeat(), opts.pingIntervalMs ?? 30_000);
    this.timer.unref();
  }

  stats(): EventSocketStats {
    return { clients: this.clients.size, peakBufferedAmount: this.peak };
  }

  /** Bytes queued on a socket above which a sender should wait or give up (the highWaterMark option). */
  get highWaterMark(): number {
    return this.hwm;
  }

  /** Serves `route` too (before the upgrade, after the runs' paths). */
  addRoute(route: EventRoute): void {
    this.routes.push(route);
  }

  /** Sends `text` and notes how much is queued on the socket (returned). */
  send(ws: WebSocket, text: string): number {
    ws.send(text);
    const queued = ws.bufferedAmount;
    if (queued > this.peak) this.peak = queued;
    return queued;
  }

  /** The http server's 'upgrade' listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.closing) return refuse(socket, 503, 'the bridge is stopping');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://bridge.invalid');
    } catch {
      return refuse(socket, 400, 'the request URL is not valid');
    }
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, 400, 'the bridge upgrades connections to WebSocket only (Upgrade: websocket)');
    const allRuns = RUNS_PATH.test(url.pathname);
    const m = allRuns ? null : PATH.exec(url.pathname);
    let route: { route: EventRoute; match: RegExpExecArray } | undefined;
    for (const r of allRuns || m ? [] : this.routes) {
      const match = r.path.exec(url.pathname);
      if (match) {
        route = { route: r, match };
        break;
      }
    }
    if (!allRuns && !m && !route) {
      const more = this.routes.map(r => `, ${r.describe}`).join('');
      return refuse(socket, 404, `no WebSocket here: a run's events are at /api/v1/runs/{id}/events?since=SEQ, every run's changes at /api/v1/runs/events${more}`);
    }
    const origin = req.headers.origin;
    if (!this.origins.allows(origin)) {
      this.log.warn({ req: serializeRequest(req) }, 'websocket refused: origin not allowed');
      return refuse(socket, 403, originMessage(origin!));
    }
    const queryTokens = url.searchParams.getAll('token');
    const presented = bearerToken(req.headers) ?? (queryTokens.length === 1 ? queryTokens[0] : undefined);
    if (!this.tokens.matches(presented)) {
      this.log.warn({ req: serializeRequest(req) }, 'websocket refused: missing or wrong token');
      return refuse(socket, 401, WS_AUTH_MESSAGE, { 'WWW-Authenticate': 'Bearer' });
    }
    if (allRuns) {
      for (const k of url.searchParams.keys()) {
        if (k !== 'token') return refuse(socket, 400, `unknown query parameter ${JSON.stringify(k.slice(0, 40))}: the runs' changes take only token (list the runs over REST for the present)`);
      }
      if (this.clients.size >= this.maxClients) return refuse(socket, 503, `${this.clients.size} event sockets are open, the most the bridge allows: close some and try again`);
      this.wss.handleUpgrade(req, socket, head, ws => this.serveRuns(ws, req));
      return;
    }
    if (route) {
      const { route: r, match } = route;
      for (const k of url.searchParams.keys()) {
        if (k !== 'token' && !r.params.includes(k)) return refuse(socket, 400, `unknown query parameter ${JSON.stringify(k.slice(0, 40))}: this WebSocket takes ${[...r.params, 'token'].join(' and ')}`);
      }
      const bad = r.checkQuery?.(url.searchParams);
      if (bad) return refuse(socket, 400, bad);
      if (this.clients.size >= this.maxClients) return refuse(socket, 503, `${this.clients.size} event sockets are open, the most the bridge allows: close some and try again`);
      this.wss.handleUpgrade(req, socket, head, ws => {
        this.track(ws);
        r.serve(ws, match, url, req);
      });
      return;
    }
    for (const k of url.searchParams.keys()) {
      if (k !== 'token' && k !== 'since') return refuse(socket, 400, `unknown query parameter ${JSON.stringify(k.slice(0, 40))}: events take since and token`);
    }
    const sinceAll = url.searchParams.getAll('since');
    const sinceText = sinceAll[0] ?? '0';
    if (sinceAll.length > 1 || !/^\d{1,15}$/.test(sinceText)) {
      return refuse(socket, 400, 'query parameter since must be a whole number >= 0: the seq of the last event you have (0 for all)');
    }
    if (this.clients.size >= this.maxClients) return refuse(socket, 503, `${this.clients.size} event sockets are open, the most the bridge allows: close some and try again`);
    const id = decodeSegment(m![1]);
    this.wss.handleUpgrade(req, socket, head, ws => this.serve(ws, socket, id, Number(sinceText), req));
  }

  /** Registers an open socket for pings and closing, until it closes. */
  private track(ws: WebSocket): void {
    const state = { alive: true };
    this.clients.set(ws, state);
    ws.on('pong', () => (state.alive = true));
    ws.on('error', () => ws.terminate());
    ws.on('message', () => undefined);
    ws.on('close', () => this.clients.delete(ws));
  }

  private serve(ws: WebSocket, socket: Duplex, id: string, since: number, req: IncomingMessage): void {
    this.track(ws);
    if (!isRunId(id) || !this.store.getSummary(id)) {
      ws.close(4404, reasonOf(`no run ${id}`));
      return;
    }
    const log = this.log.child({ runId: id });
    log.debug({ req: serializeRequest(req), since }, 'events socket open');

    let gone = false;
    const drained = () =>
      new Promise<void>(resolve => {
        const check = () => {
          if (gone || ws.bufferedAmount <= this.hwm / 2) {
            socket.off('drain', check);
            ws.off('close', check);
            clearInterval(poll);
            resolve();
          }
        };
        // The socket's 'drain' covers its own buffer; the poll covers ws's queue in front of it.
        const poll = setInterval(check, 25);
        socket.on('drain', check);
        ws.on('close', check);
      });
    const send = async (e: StoredEvent) => {
      if (gone || ws.readyState !== WebSocket.OPEN) throw new ClientGone();
      const event = e.event.type === 'result' ? { ...e.event, result: this.store.getRun(id)?.result } : e.event;
      if (this.send(ws, JSON.stringify({ seq: e.seq, at: e.at, event })) > this.hwm) await drained();
    };
    const follower = this.store.follow(id, since, send, { stopWhenFinal: true, pageSize: this.pageSize, maxBuffered: this.maxBuffered, withLogData: true });
    ws.on('close', () => {
      gone = true;
      follower.stop();
    });
    follower.done.then(
      () => {
        if (gone || ws.readyState !== WebSocket.OPEN) return;
        let final = false;
        try {
          final = this.store.isOpen && isFinalState(this.store.getSummary(id)?.state ?? 'queued');
        } catch {
          final = false;
        }
        if (final && !this.closing) ws.close(1000, 'run finished');
        else ws.close(1001, 'the bridge is stopping');
      },
      err => {
        if (gone || ws.readyState !== WebSocket.OPEN) return;
        if (err instanceof ClientGone) return;
        if (err instanceof RunNotFoundError) {
          ws.close(4404, reasonOf(`run ${id} was deleted`));
          return;
        }
        log.error({ err }, 'following run events failed');
        ws.close(1011, 'internal error: see the bridge log');
      }
    );
  }

  /** A client of every run's changes: registered until it closes; the store is followed while any is open. */
  private serveRuns(ws: WebSocket, req: IncomingMessage): void {
    this.track(ws);
    this.runClients.add(ws);
    ws.on('close', () => {
      this.runClients.delete(ws);
      if (!this.runClients.size && this.unsubscribeRuns) {
        this.unsubscribeRuns();
        this.unsubscribeRuns = undefined;
      }
    });
    this.log.debug({ req: serializeRequest(req) }, 'runs socket open');
    if (!this.unsubscribeRuns) {
      const changes = this.store.subscribeAll(e => this.runChanged(e));
      const deletions = this.store.subscribeDeletions(id => this.broadcastRuns({ type: 'run-deleted', id }));
      this.unsubscribeRuns = () => {
        changes();
        deletions();
      };
    }
  }

  /** Sends the run's summary to every runs client (read once, after the event's commit). */
  private runChanged(e: StoredEvent): void {
    if (!changesSummary(e) || this.closing) return;
    const run = this.store.getSummary(e.runId);
    if (run) this.broadcastRuns({ type: 'run', run });
  }

  private broadcastRuns(message: RunsStreamMessage): void {
    if (this.closing) return;
    const text = JSON.stringify(message);
    for (const ws of this.runClients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      // Behind by more than the high-water mark: dropped rather than buffered; it lists again when back.
      if (ws.bufferedAmount > this.hwm) {
        ws.terminate();
        continue;
      }
      this.send(ws, text);
    }
  }

  private heartbeat(): void {
    for (const [ws, s] of this.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (!s.alive) {
        ws.terminate();
        continue;
      }
      s.alive = false;
      ws.ping();
    }
  }

  /** Closes every socket (1001), dropping those that do not answer within `graceMs`. */
  async close(graceMs = 1000): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    const open = [...this.clients.keys()];
    for (const ws of open) if (ws.readyState === WebSocket.OPEN) ws.close(1001, 'the bridge is stopping');
    await Promise.all(
      open.map(
        ws =>
          new Promise<void>(resolve => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            const t = setTimeout(() => {
              ws.terminate();
              resolve();
            }, graceMs);
            ws.once('close', () => {
              clearTimeout(t);
              resolve();
            });
          })
      )
    );
    this.clients.clear();
    this.runClients.clear();
    this.unsubscribeRuns?.();
    this.unsubscribeRuns = undefined;
    this.wss.close();
  }
}
