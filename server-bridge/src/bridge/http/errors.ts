// Every error the API answers is JSON `{ error: "<what went wrong and what to do>", ... }`.
// This module turns whatever a handler threw (our HttpError, the service's
// RequestError, a RedError from validation, a BuildSpecError, Fastify's own body
// errors) into that shape. Anything unexpected becomes a 500 that names the request
// id and nothing else: no stack traces, no internal messages.
import type { FastifyRequest } from 'fastify';
import { RedError, type RedIssue } from '../../../../src/red';
import { BuildSpecError } from '../../images/types';
import { IllegalTransitionError, RunNotFoundError } from '../../store/types';
import { RequestError } from '../service';

/** A refusal with a status, a clear message and optional extra fields for the JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {}
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ErrorReply {
  status: number;
  body: { error: string; [key: string]: unknown };
  headers?: Record<string, string>;
  /** True for a fault of the bridge (5xx): worth logging with the error. */
  internal: boolean;
}

export const mib = (n: number): string => (n >= 1024 * 1024 ? `${+(n / (1024 * 1024)).toFixed(1)} MiB` : n >= 1024 ? `${+(n / 1024).toFixed(1)} KiB` : `${n} bytes`);

/** What the client sees of a RED issue. */
export function publicIssue(i: RedIssue): { path: string; line?: number; message: string; fix?: string; severity: string } {
  const out: { path: string; line?: number; message: string; fix?: string; severity: string } = { path: i.path, message: i.message, severity: i.severity };
  if (i.line !== undefined) out.line = i.line;
  if (i.fix !== undefined) out.fix = i.fix;
  return out;
}

function isRedError(err: unknown): err is RedError {
  return err instanceof RedError || (err instanceof Error && err.name === 'RedError' && Array.isArray((err as RedError).issues));
}

/** The one-line summary of a RedError's issues. */
function redSummary(issues: RedIssue[]): string {
  const errors = issues.filter(i => i.severity === 'error');
  const first = errors[0] ?? issues[0];
  if (!first) return 'the RED is not valid: fix it and submit it again';
  const where = `${first.line !== undefined ? `line ${first.line}: ` : ''}${first.path || '(document)'}`;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more, see issues)` : '';
  return `the RED is not valid: ${where}: ${first.message}${more}; fix it and submit it again`;
}

function firstLine(s: string, max = 300): string {
  const line = s.split('\n')[0];
  return line.length > max ? line.slice(0, max) + '…' : line;
}

/** Maps a thrown value to the JSON error reply. `req` tells limits and accepted types for Fastify's body errors. */
export function toErrorReply(err: unknown, req?: FastifyRequest, accepts?: readonly string[]): ErrorReply {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: err.message, ...err.extra }, headers: err.headers, internal: err.status >= 500 };
  }
  if (err instanceof RequestError) {
    const body: ErrorReply['body'] = { error: err.message };
    if (err.details?.issues) body.issues = err.details.issues.map(i => (i && typeof i === 'object' && 'message' in i ? publicIssue(i as RedIssue) : i));
    if (err.details?.fix) body.fix = err.details.fix;
    const status = Number.isInteger(err.status) && err.status >= 400 && err.status <= 599 ? err.status : 400;
    return { status, body, internal: status >= 500 };
  }
  if (isRedError(err)) {
    return { status: 422, body: { error: redSummary(err.issues), issues: err.issues.map(publicIssue) }, internal: false };
  }
  if (err instanceof BuildSpecError) {
    return { status: 400, body: { error: `${err.message}; fix the build spec and send it again` }, internal: false };
  }
  if (err instanceof RunNotFoundError) {
    return { status: 404, body: { error: `no run ${err.runId}: it does not exist or was deleted; GET /api/v1/runs lists runs` }, internal: false };
  }
  if (err instanceof IllegalTransitionError) {
    return { status: 409, body: { error: err.message }, internal: false };
  }
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('FST_')) {
    const limit = req?.routeOptions?.bodyLimit;
    switch (code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return {
          status: 413,
          body: { error: `the request body is larger than the limit${limit ? ` of ${mib(limit)}` : ''}: send less (large files belong in the RED's inputs, not in the request)`, limit },
          internal: false
        };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
        const ct = req?.headers['content-type'];
        const shown = ct === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(firstLine(String(ct), 100))}`;
        const list = accepts?.length ? `send ${accepts.join(' or ')}` : 'this route takes no body';
        return { status: 415, body: { error: `${shown} is not accepted here: ${list}`, accepted: accepts ?? [] }, internal: false };
      }
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return { status: 400, body: { error: 'the body is not as long as its Content-Length header says: send the whole body' }, internal: false };
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return { status: 400, body: { error: 'the body is empty but its Content-Type says JSON: send a JSON document' }, internal: false };
      case 'FST_ERR_CTP_INVALID_TYPE':
      case 'FST_ERR_CTP_EMPTY_TYPE':
        return { status: 415, body: { error: 'the Content-Type header is not valid: send e.g. Content-Type: application/json' }, internal: false };
      default: {
        const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
        if (status >= 400 && status < 500) return { status, body: { error: firstLine(String(e.message ?? 'bad request')) }, internal: false };
      }
    }
  }
  // Node's HTTP body errors (client aborted, bad encoding …).
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return { status: 400, body: { error: 'the request was cut off before its body arrived in full: send it again' }, internal: false };
  }
  const id = req?.id;
  return { status: 500, body: { error: `internal error in the bridge: see its log${id ? ` (request ${id})` : ''}`, ...(id ? { requestId: id } : {}) }, internal: true };
}
