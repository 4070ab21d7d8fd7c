// /api/v1/sessions: container sessions ("Run cell in container", issue 10): create, list,
// read, stop, execute a cell, read an execution (optionally waiting for its end),
// interrupt, restart. The events WebSocket is http/session-events.ts.
//
// The routes check what they can see (a JSON object, unknown keys, the execute request's
// fields: 400/422; id shapes: 404 for an id no session can have) before the SessionService
// is called; the service checks a new session's fields and refuses the rest with a RequestError (404 unknown, 409 dead session or GPUs the
// engine cannot give, 422 a bad value, 403 a folder outside the allowed roots). A bridge
// without sessions (RunService.sessions absent) answers 404 on every route.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ExecuteRequest, SessionCreateRequest } from '../../../../src/red';
import { isRunId } from '../../store/ids';
import type { RunService, SessionService } from '../service';
import { addJsonParser, JSON_TYPES, JsonBody } from './body';
import { HttpError } from './errors';
import { flagParam, onlyParams, type Query } from './params';
import { describe, isPlainObject } from './runs';

const SESSIONS = '/api/v1/sessions';
const CREATE_KEYS = ['image', 'notebookPath', 'profile', 'ram', 'cpus', 'gpus', 'env', 'engine'] as const;
const EXECUTE_KEYS = ['code', 'cellId'] as const;

/** Session and execution ids are run-id shaped (ULIDs: 26 characters 0-9, A-Z). */
export const isSessionId = isRunId;
export const isExecutionId = isRunId;

const shown = (v: unknown) => {
  const s = String(v ?? '');
  return JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
};

export interface SessionRouteOptions {
  /** Longest wait of GET …/executions/{id}?wait=true (ms); then the record is answered as it is. */
  maxWaitMs: number;
}

/** The JSON object of a request body; `what` names the request in the messages. */
function jsonObject(body: unknown, what: string, example: string): Record<string, unknown> {
  if (!(body instanceof JsonBody)) throw new HttpError(400, `${what} needs a JSON body (Content-Type: application/json): send ${example}`);
  if (!isPlainObject(body.value)) throw new HttpError(400, `the JSON body is ${describe(body.value)}: send an object, ${example}`);
  return body.value;
}

function onlyKeys(v: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) throw new HttpError(400, `unknown key ${shown(k)} in ${where}: it takes ${known.join(', ')}`);
  }
}

/** Text without NUL or line breaks, 1 to `max` characters. */
function text(v: unknown, field: string, max: number, fix: string): string {
  if (typeof v !== 'string') throw new HttpError(400, `${field} must be text, not ${describe(v)}: ${fix}`);
  if (!v.trim()) throw new HttpError(422, `${field} is empty: ${fix}`);
  if (v.length > max) throw new HttpError(422, `${field} is ${v.length} characters long, more than ${max}: ${fix}`);
  if (/[\0\r\n]/.test(v)) throw new HttpError(422, `${field} has a NUL or line break: ${fix}`);
  return v;
}

/**
 * POST /sessions' body: a JSON object with no key the request does not have. Its fields are
 * the service's to check (bridge/session-request.ts, 422 naming the field and the fix), in
 * one place.
 */
export function sessionCreateRequest(body: unknown): SessionCreateRequest {
  const v = jsonObject(body, 'creating a session', '{"image": "redlab/debian-python:12", "notebookPath": "folder/notebook.ipynb"}');
  onlyKeys(v, CREATE_KEYS, 'the session request');
  return v as unknown as SessionCreateRequest;
}

/** POST /sessions/{id}/execute's body. */
export function executeRequest(body: unknown): ExecuteRequest {
  const v = jsonObject(body, 'executing a cell', '{"code": "print(1)", "cellId": "…"}');
  onlyKeys(v, EXECUTE_KEYS, 'the execute request');
  if (v.code === undefined) throw new HttpError(400, 'the execute request has no code: give the cell\'s source as text, {"code": "print(1)"}');
  if (typeof v.code !== 'string') throw new HttpError(400, `code must be the cell's source as text, not ${describe(v.code)}`);
  const req: ExecuteRequest = { code: v.code };
  if (v.cellId !== undefined) req.cellId = text(v.cellId, 'cellId', 256, "give the notebook cell's id, or leave it out");
  return req;
}

/** The session id of the path, shaped as one (else 404: no session can have it). */
function sessionIdParam(p: unknown): string {
  const id = (p as { id?: unknown })?.id;
  if (!isSessionId(id)) throw new HttpError(404, `no session ${shown(id)}: session ids are 26 characters (0-9, A-Z), as POST /api/v1/sessions returns them`);
  return id;
}

function executionIdParam(p: unknown, sessionId: string): string {
  const id = (p as { executionId?: unknown })?.executionId;
  if (!isExecutionId(id)) throw new HttpError(404, `no execution ${shown(id)} in session ${sessionId}: execution ids are 26 characters (0-9, A-Z), as POST /api/v1/sessions/${sessionId}/execute returns them`);
  return id;
}

const noSession = (id: string) => new HttpError(404, `no session ${id}: it does not exist or was removed; GET /api/v1/sessions lists the sessions`);

export function registerSessionRoutes(app: FastifyInstance, service: RunService, opts: SessionRouteOptions): void {
  const sessions = (): SessionService => {
    if (!service.sessions) throw new HttpError(404, 'this bridge has no container sessions: start a bridge whose engine runs sessions (GET /api/v1/health shows capabilities.sessions)');
    return service.sessions;
  };
  /** The service and the path's session id, known to it (404 naming it otherwise). */
  const known = (req: FastifyRequest, params: readonly string[] = []) => {
    onlyParams(req.query as Query, params);
    const svc = sessions();
    const id = sessionIdParam(req.params);
    const session = svc.get(id);
    if (!session) throw noSession(id);
    return { svc, id, session };
  };
  // A body-less POST that still says JSON (Content-Length: 0): nothing to parse, so the type is dropped.
  const bodyless = async (req: FastifyRequest) => {
    if (req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined) delete req.raw.headers['content-type'];
  };

  app.register(async scope => {
    addJsonParser(scope);
    const config = { accepts: [...JSON_TYPES] };
    scope.post('/sessions', { config }, async (req: FastifyRequest, reply: FastifyReply) => {
      onlyParams(req.query as Query, []);
      const svc = sessions();
      const { session, created } = await svc.create(sessionCreateRequest(req.body));
      return reply.code(created ? 201 : 200).header('location', `${SESSIONS}/${session.id}`).send(session);
    });
    scope.post('/sessions/:id/execute', { config }, async (req: FastifyRequest, reply: FastifyReply) => {
      const { svc, id } = known(req);
      const r = svc.execute(id, executeRequest(req.body));
      return reply.code(202).header('location', `${SESSIONS}/${id}/executions/${r.executionId}`).send(r);
    });
    // No body, or a JSON one (JupyterLab's request helper may send `{}`): nothing in it is read.
    scope.post('/sessions/:id/interrupt', { config, onRequest: bodyless }, async req => {
      const { svc, id } = known(req);
      return svc.interrupt(id);
    });
    scope.post('/sessions/:id/restart', { config, onRequest: bodyless }, async req => {
      const { svc, id } = known(req);
      return svc.restart(id);
    });
  });

  app.get('/sessions', async req => {
    onlyParams(req.query as Query, []);
    return { sessions: sessions().list() };
  });

  app.get('/sessions/:id', async req => known(req).session);

  app.delete('/sessions/:id', async req => {
    const { svc, id } = known(req);
    const s = await svc.stop(id);
    if (!s) throw noSession(id);
    return s;
  });

  app.get('/sessions/:id/executions/:executionId', async (req, reply) => {
    const { svc, id } = known(req, ['wait']);
    const executionId = executionIdParam(req.params, id);
    const wait = flagParam(req.query as Query, 'wait');
    // A client that goes away, or the longest wait, ends the wait; the record is then answered as it is.
    const ended = new AbortController();
    const timer = wait ? setTimeout(() => ended.abort(), opts.maxWaitMs) : undefined;
    const onClose = () => {
      if (!reply.raw.writableFinished) ended.abort();
    };
    reply.raw.on('close', onClose);
    try {
      const record = await svc.execution(id, executionId, wait ? { wait: true, signal: ended.signal } : undefined);
      if (!record) throw new HttpError(404, `no execution ${executionId} in session ${id}: it does not exist or was lost with a restart`);
      return record;
    } finally {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
    }
  });
}
