// The official Kubernetes OpenAPI v3 schema (api/openapi-spec/v3 of kubernetes/kubernetes, put in
// /var/cache/redlab/k8s-openapi/<version>/ by .ci/k8s-openapi.sh) as an ajv validator of objects:
// every $ref resolved, and made strict about unknown fields. The schema itself never says
// additionalProperties: false (the API server's own strict field validation is not in it), so it
// is added to every object schema that lists `properties`: a misspelled field fails here as
// `kubectl apply --validate=strict` would fail it.
import Ajv, { type ValidateFunction } from 'ajv';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';

export const K8S_OPENAPI_VERSION = 'v1.31.14';
export const K8S_OPENAPI_FILES = ['api__v1_openapi.json', 'apis__batch__v1_openapi.json'];

export function k8sOpenapiDir(): string {
  return path.join(process.env.REDLAB_K8S_OPENAPI_DIR ?? '/var/cache/redlab/k8s-openapi', K8S_OPENAPI_VERSION);
}

/** Whether the cache holds the schema files; the message says what to run when not. */
export function k8sOpenapiAvailable(): { ok: boolean; message: string } {
  const dir = k8sOpenapiDir();
  const missing = K8S_OPENAPI_FILES.filter(f => !existsSync(path.join(dir, f)));
  return missing.length
    ? { ok: false, message: `the Kubernetes OpenAPI schema ${K8S_OPENAPI_VERSION} is not in ${dir} (missing ${missing.join(', ')}): run bash .ci/k8s-openapi.sh` }
    : { ok: true, message: '' };
}

type Json = Record<string, unknown>;

/** A copy with $refs pointing into `definitions` and additionalProperties: false on every object schema with properties. */
function strictCopy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictCopy);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/components/schemas/', '#/definitions/');
    else if (k === 'properties' && v && typeof v === 'object') out[k] = Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, strictCopy(s)]));
    else out[k] = strictCopy(v);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export interface K8sValidator {
  /** The problems of `obj` as a `definition` (e.g. io.k8s.api.batch.v1.Job): "path: message" each; empty when valid. */
  check(definition: string, obj: unknown): string[];
  /** Names of all definitions (for tests that the schema is the one expected). */
  definitions: string[];
}

let cached: K8sValidator | undefined;

export function k8sValidator(): K8sValidator {
  if (cached) return cached;
  const definitions: Json = {};
  for (const f of K8S_OPENAPI_FILES) {
    const doc = JSON.parse(readFileSync(path.join(k8sOpenapiDir(), f), 'utf8')) as { components: { schemas: Json } };
    for (const [name, schema] of Object.entries(doc.components.schemas)) definitions[name] ??= strictCopy(schema);
  }
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  // The formats the schema names: int32/int64 are checked, byte is base64, the rest are free text here.
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  for (const f of ['date-time', 'int-or-string']) ajv.addFormat(f, () => true);
  ajv.addSchema({ $id: 'k8s', definitions });
  const compiled = new Map<string, ValidateFunction>();
  cached = {
    definitions: Object.keys(definitions),
    check(definition, obj) {
      if (!(definition in definitions)) throw new Error(`the schema has no ${definition}`);
      let v = compiled.get(definition);
      if (!v) {
        v = ajv.compile({ $ref: `k8s#/definitions/${definition}` });
        compiled.set(definition, v);
      }
      // As JSON goes over the wire: undefined fields are not there.
      return v(JSON.parse(JSON.stringify(obj))) ? [] : (v.errors ?? []).map(e => `${e.instancePath || '/'}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${e.params.additionalProperty})` : ''}`);
    }
  };
  return cached;
}
