// Request bodies. Fastify's own parsers are removed; each route context adds only the
// types it takes, so a body of another type is refused (415) before it is read, and a
// large archive can only be sent where archives are taken.
//
// JSON is checked for nesting depth on the raw text before JSON.parse (code that walks
// the result recursively cannot be made to overflow its stack), and keys that could
// reach an object's prototype (`__proto__`, `constructor.prototype`) are refused.
// YAML is passed on as text: the RED parser is the one that knows how to read it safely
// (alias bombs, deep nesting, tags).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors';

/** Deepest nesting of objects and arrays a JSON body may have. */
export const MAX_JSON_DEPTH = 64;

export const JSON_TYPES = ['application/json'] as const;
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'] as const;
export const TAR_TYPES = ['application/x-tar', 'application/tar', 'application/gzip', 'application/x-gzip', 'application/x-tar+gzip'] as const;

/** A parsed JSON body and its text (bare RED documents are passed on as text, so issues keep their lines). */
export class JsonBody {
  constructor(readonly text: string, readonly value: unknown) {}
}

/** A YAML body, as text. */
export class YamlBody {
  constructor(readonly text: string) {}
}

/** A tar archive (gzipped or not). */
export class TarBody {
  constructor(readonly data: Buffer) {}
}

/** Nesting depth of JSON text, stopping as soon as it passes `max` (strings are skipped). */
export function jsonDepthExceeds(text: string, max: number): { line: number } | undefined {
  let depth = 0;
  let inString = false;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return { line };
    } else if (c === 125 || c === 93) depth--;
  }
  return undefined;
}

/** Throws when a parsed value has a key that could reach a prototype. Depth is already bounded. */
function checkKeys(v: unknown, path: string): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkKeys(x, `${path}[${i}]`));
    return;
  }
  if (v === null || typeof v !== 'object') return;
  for (const k of Object.keys(v)) {
    const child = (v as Record<string, unknown>)[k];
    if (k === '__proto__' || (k === 'constructor' && child !== null && typeof child === 'object' && Object.prototype.hasOwnProperty.call(child, 'prototype'))) {
      throw new HttpError(400, `the JSON body has the key ${JSON.stringify(k)}${path ? ` at ${path}` : ''}, which is not allowed: remove it`);
    }
    checkKeys(child, path ? `${path}.${k}` : k);
  }
}

/** Parses JSON text as the API does: depth-checked, prototype keys refused, clear 400s. */
export function parseJsonBody(text: string): unknown {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!text.trim()) throw new HttpError(400, 'the body is empty but its Content-Type says JSON: send a JSON document');
  const deep = jsonDepthExceeds(text, MAX_JSON_DEPTH);
  if (deep) throw new HttpError(400, `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels (line ${deep.line}): flatten it; a RED needs only a few levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = String((e as Error).message).slice(0, 200);
    throw new HttpError(400, `the body is not valid JSON (${msg}): check brackets, commas and quotes, or send YAML with Content-Type: application/yaml`);
  }
  checkKeys(value, '');
  return value;
}

const bodyError = (err: unknown) => (err instanceof Error ? err : new HttpError(400, String(err)));

/** JSON: a JsonBody. */
export function addJsonParser(app: FastifyInstance): void {
  app.addContentTypeParser([...JSON_TYPES], { parseAs: 'string' }, (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    try {
      const text = String(body);
      done(null, new JsonBody(text, parseJsonBody(text)));
    } catch (err) {
      done(bodyError(err));
    }
  });
}

/** YAML: a YamlBody (not parsed here). */
export function addYamlParser(app: FastifyInstance): void {
  app.addContentTypeParser([...YAML_TYPES], { parseAs: 'string' }, (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    done(null, new YamlBody(String(body)));
  });
}

/** A tar archive: a TarBody (size limited by the route's bodyLimit). */
export function addTarParser(app: FastifyInstance): void {
  app.addContentTypeParser([...TAR_TYPES], { parseAs: 'buffer' }, (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    done(null, new TarBody(Buffer.isBuffer(body) ? body : Buffer.from(body)));
  });
}
