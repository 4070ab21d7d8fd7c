// WebSocket /api/v1/sessions/{id}/events?since=SEQ: a container session's events
// (SessionEventMessage: session changes, execution states, outputs), one JSON message
// each, those after `since` that the session still holds, then live ones, from
// SessionService.subscribe. The gates, the socket limit, keepalive and closing are
// EventSockets' (events.ts); this route adds only what a session needs.
//
// Backpressure: subscribe's sender cannot wait, so a slow client's messages queue on
// its socket; past `maxQueuedBytes` the socket closes with 4008 after what is queued
// (the close frame follows the queued messages), and the client reconnects with
// since=<the last seq it got>: nothing is lost while the session still holds it.
// Closes 1000 once the session's final state (dead, stopped) has been sent (at once for a
// session that ended before: nothing more will come), 4404 for an unknown session (or a
// bridge without sessions), 1001 when the bridge stops, 1011 when subscribing fails.
import type { IncomingMessage } from 'http';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import { isFinalSessionState, type SessionEventMessage, type SessionState } from '../../../../src/red';
import type { SessionService } from '../service';
import { decodeSegment, reasonOf, type EventRoute, type EventSockets } from './events';
import { serializeRequest } from './logger';
import { isSessionId } from './sessions';

export const SESSION_EVENTS_PATH = /^\/api\/v1\/sessions\/([^/]*)\/events\/?$/;
/** Close code for a client too far behind: reconnect with since=<last seq received>. */
export const CLOSE_TOO_SLOW = 4008;
export const CLOSE_NO_SESSION = 4404;
/** Default bytes a session socket may have queued before it is closed (CLOSE_TOO_SLOW). */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;

export function sessionEventsRoute(sessions: SessionService | undefined, sockets: EventSockets, log: Logger, opts: { maxQueuedBytes?: number } = {}): EventRoute {
  const maxQueued = Math.max(opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES, sockets.highWaterMark);
  return {
    path: SESSION_EVENTS_PATH,
    describe: "a session's events at /api/v1/sessions/{id}/events?since=SEQ",
    params: ['since'],
    checkQuery(q) {
      const all = q.getAll('since');
      if (all.length > 1 || (all.length && !/^\d{1,15}$/.test(all[0]))) return 'query parameter since must be a whole number >= 0, given once: the seq of the last event you have (0 for all)';
      return undefined;
    },
    serve(ws: WebSocket, match: RegExpExecArray, url: URL, req: IncomingMessage) {
      const id = decodeSegment(match[1]);
      const since = Number(url.searchParams.get('since') ?? '0');
      if (!sessions || !isSessionId(id)) {
        ws.close(CLOSE_NO_SESSION, reasonOf(sessions ? `no session ${id}` : 'this bridge has no container sessions'));
        return;
      }
      let gone = false;
      let unsubscribe: (() => void) | undefined;
      const stop = () => {
        gone = true;
        unsubscribe?.();
        unsubscribe = undefined;
      };
      ws.on('close', stop);
      const ended = (state: SessionState) => {
        stop();
        ws.close(1000, `session ${state}`);
      };
      const send = (m: SessionEventMessage) => {
        if (gone || ws.readyState !== ws.OPEN) return;
        const queued = sockets.send(ws, JSON.stringify(m));
        if (m.type === 'session' && isFinalSessionState(m.session.state)) ended(m.session.state);
        else if (queued > maxQueued) {
          log.warn({ sessionId: id, queued, seq: m.seq }, 'session events: client too far behind, closing');
          stop();
          ws.close(CLOSE_TOO_SLOW, reasonOf(`more than ${Math.round(maxQueued / 1048576)} MiB behind: reconnect with since=${m.seq}`));
        }
      };
      try {
        // The replay may be sent (and the socket closed) before subscribe returns.
        const un = sessions.subscribe(id, since, send);
        if (!un) {
          gone = true;
          ws.close(CLOSE_NO_SESSION, reasonOf(`no session ${id}`));
          return;
        }
        if (gone) un();
        else unsubscribe = un;
        // Ended before (its final state was before `since`): nothing more will come.
        const state = gone ? undefined : sessions.get(id)?.state;
        if (state && isFinalSessionState(state)) ended(state);
      } catch (err) {
        stop();
        log.error({ err, sessionId: id }, 'subscribing to session events failed');
        ws.close(1011, 'internal error: see the bridge log');
        return;
      }
      log.debug({ req: serializeRequest(req), sessionId: id, since }, 'session events socket open');
    }
  };
}
