// A run's crate as it goes into a shareable bundle (`redlab export --zip`, the bridge's
// crate download): local inputs copied into the bundle are described as the crate's own
// files (relative @ids, in the root's hasPart) instead of entities that name a path on the
// machine that ran it (a file:// @id kept as isBasedOn; a url property stays as it is).
// Pure: works on the parsed JSON-LD.
import type { RunCrateInput } from './run-crate-types';

/** The folder of a bundle that holds its local inputs (unless the crate already has one of that name). */
export const BUNDLED_INPUTS_DIR = 'inputs';

/** A relative path as a crate @id: each segment %-encoded, a folder with a trailing slash. */
function relativeId(rel: string, folder: boolean): string {
  const id = rel.split('/').map(encodeURIComponent).join('/');
  return folder && !id.endsWith('/') ? id + '/' : id;
}

/** The last segment of a host path (a folder's trailing slash ignored). */
function baseName(p: string): string {
  const parts = p.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] || 'input';
}

/** Where a local input goes in the bundle: `<dir>/<key>/<its name>` (the key keeps two inputs of one name apart). */
export function bundledInputPath(input: Pick<RunCrateInput, 'key' | 'path' | 'id'>, dir = BUNDLED_INPUTS_DIR): string {
  return `${dir}/${input.key}/${baseName(input.path ?? input.id)}`;
}

type Json = Record<string, unknown>;
const ABSOLUTE_URI = /^[a-z][a-z0-9+.-]*:/i;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** A copy of `v` with every `{"@id": old}` reference renamed by `ids`. */
function renameRefs(v: unknown, ids: Map<string, string>): unknown {
  if (Array.isArray(v)) return v.map(x => renameRefs(x, ids));
  if (!isObject(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) out[k] = k === '@id' && typeof x === 'string' && ids.has(x) ? ids.get(x) : renameRefs(x, ids);
  return out;
}

/**
 * The crate (parsed ro-crate-metadata.json) with the inputs in `mapping` (an input's
 * crate @id → its path in the bundle, relative to the crate root) described as files
 * of the crate: each entity's @id becomes the relative path (a Dataset's with a trailing
 * slash), every reference to it follows, it is in the root's hasPart, and a file:// @id
 * it had is kept as isBasedOn (where it was when it ran). Inputs not in `mapping` stay as
 * they are. The crate given is not changed.
 */
export function withBundledInputs(crate: unknown, mapping: Readonly<Record<string, string>>): unknown {
  const graph = isObject(crate) ? crate['@graph'] : undefined;
  if (!Array.isArray(graph)) throw new Error('ro-crate-metadata.json has no @graph: not an RO-Crate');
  const ids = new Map<string, string>();
  for (const e of graph) {
    const id = isObject(e) ? e['@id'] : undefined;
    if (typeof id !== 'string' || !Object.prototype.hasOwnProperty.call(mapping, id)) continue;
    const folder = ([] as unknown[]).concat(e['@type']).includes('Dataset');
    ids.set(id, relativeId(mapping[id], folder));
  }
  const missing = Object.keys(mapping).filter(id => !ids.has(id));
  if (missing.length) throw new Error(`the crate describes no input ${missing.join(', ')}: nothing to bundle under that @id`);
  const renamed = graph.map(e => {
    if (!isObject(e)) return e;
    const id = e['@id'] as string;
    const entity = renameRefs(e, ids) as Json;
    if (ids.has(id)) {
      entity['@id'] = ids.get(id);
      // An input named by where it was (file:///…) keeps that as isBasedOn; a `#` id says nothing worth keeping (its url does).
      if (ABSOLUTE_URI.test(id) && entity.isBasedOn === undefined) entity.isBasedOn = { '@id': id };
    }
    // RED Lab's own list of inputs names them by @id as plain text.
    if (Array.isArray(entity['redlab:inputs'])) {
      entity['redlab:inputs'] = (entity['redlab:inputs'] as unknown[]).map(i => (isObject(i) && typeof i.id === 'string' && ids.has(i.id) ? { ...i, id: ids.get(i.id) } : i));
    }
    return entity;
  });
  // The root dataset (what the metadata descriptor is about) lists every bundled input.
  const descriptor = renamed.find(e => isObject(e) && e['@id'] === 'ro-crate-metadata.json') as Json | undefined;
  const rootId = (isObject(descriptor?.about) && typeof descriptor.about['@id'] === 'string' ? descriptor.about['@id'] : './') as string;
  const root = renamed.find(e => isObject(e) && e['@id'] === rootId) as Json | undefined;
  if (root) {
    const parts = ([] as unknown[]).concat(root.hasPart ?? []);
    const listed = new Set(parts.map(p => (isObject(p) ? p['@id'] : undefined)));
    for (const id of ids.values()) if (!listed.has(id)) parts.push({ '@id': id });
    root.hasPart = parts;
  }
  return { ...(crate as Json), '@graph': renamed };
}
