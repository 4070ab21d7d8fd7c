// Inputs onto the host before a batch's container starts: each File/Directory
// input goes through its connector into the batch's private work folder (local
// paths are pinned there too: copied or hard-linked, never bound in place), is
// checked against its checksum/size/listing, and becomes a read-only bind at its CC
// container path. Hashes are of that staged copy: what the container sees.
import { lstat, mkdir, rm, stat } from 'fs/promises';
import * as path from 'path';
import { type CommandLineTool, type FileOrDirectory, type JobInputs, type ListingEntry, type FileRecord, CONTAINER_OUTPUTS_DIR, inputContainerPath, splitCwlType, toAbsoluteContainerPath } from '../../../src/red';
import { ConnectorError, type ConnectorContext, type InputConnector, type InputStageRequest, type SourceIdentity, type StagedInput } from '../connectors/types';
import type { InputCache } from '../connectors/input-cache';
import type { ConnectorRegistry } from '../connectors/registry';
import { canMount, mountInput, type BatchMounts } from '../connectors/mounts';
import { hashFile, hashPath } from '../util/hash';
import { isSafeSegment } from '../util/fs-safety';
import type { BindMount } from './host-config';

/** One File/Directory value of a batch, with where it goes in the container. */
export interface InputItem {
  key: string;
  index?: number;
  label: string;
  value: FileOrDirectory;
  /** As the command line shows it (relative when `dirname` is: then from /cc/outputs). */
  containerPath: string;
  /** Absolute, for the bind mount. */
  mountPath: string;
}

function isFileOrDir(v: unknown): v is FileOrDirectory {
  return !!v && typeof v === 'object' && !Array.isArray(v) && ((v as FileOrDirectory).class === 'File' || (v as FileOrDirectory).class === 'Directory');
}

/** The File/Directory values of a batch's inputs, in cli.inputs order, with container paths (paths.ts). */
export function listInputItems(cli: CommandLineTool, inputs: JobInputs): InputItem[] {
  const items: InputItem[] = [];
  for (const [key, def] of Object.entries(cli.inputs)) {
    const t = splitCwlType(def.type);
    if (t.base !== 'File' && t.base !== 'Directory') continue;
    const v = inputs[key];
    if (v === undefined || v === null) {
      if (!t.optional) throw new ConnectorError(`input ${key} (${def.type}) has no value; give one in inputs.${key} or make the type optional (${def.type}?)`);
      continue;
    }
    const values = t.array ? (Array.isArray(v) ? v : null) : [v];
    if (!values) throw new ConnectorError(`input ${key} is ${def.type} but its value is not a list`);
    values.forEach((value, i) => {
      const index = t.array ? i : undefined;
      const label = index === undefined ? key : `${key}[${index}]`;
      if (!isFileOrDir(value)) throw new ConnectorError(`input ${label} must be a ${t.base} object with class and connector`);
      if (value.class !== t.base) throw new ConnectorError(`input ${label} has class ${value.class}, but cli.inputs.${key} is ${def.type}`);
      if (!value.connector || typeof value.connector.command !== 'string') throw new ConnectorError(`input ${label} has no connector.command`);
      const containerPath = inputContainerPath(key, value, index);
      const mountPath = toAbsoluteContainerPath(containerPath);
      if (mountPath === '/' || mountPath === CONTAINER_OUTPUTS_DIR || CONTAINER_OUTPUTS_DIR.startsWith(mountPath + '/')) {
        throw new ConnectorError(`input ${label} would be placed at ${mountPath}, over the outputs folder ${CONTAINER_OUTPUTS_DIR}; change its dirname/basename`);
      }
      items.push({ key, index, label, value, containerPath, mountPath });
    });
  }
  return items;
}

export interface StagedBatchInputs {
  binds: BindMount[];
  records: Record<string, FileRecord | FileRecord[]>;
  /** container path of each item, by `key` / `key[index]`. */
  containerPaths: Map<string, string>;
}

export interface StageOptions {
  items: InputItem[];
  /** The batch's inputs folder on the host (created). */
  inputsDir: string;
  registry: ConnectorRegistry;
  ctx: ConnectorContext;
  /** Hash inputs for the FileRecords (sha256); off: sha256 '' and size from stat. */
  hashInputs?: boolean;
  /** Inputs received at once (default: registry.transferLimit, else DEFAULT_PARALLEL_TRANSFERS). */
  parallel?: number;
  /** The input cache (default: registry.inputCache); null: none. */
  cache?: InputCache | null;
  /** Where `mount: true` inputs are kept until the batch unmounts them; absent: this engine cannot mount. */
  mounts?: BatchMounts;
}

/** sha1$hex as CC writes checksums. */
function parseChecksum(c: string, label: string): { algo: 'sha1' | 'sha256'; hex: string } {
  const m = /^(sha1|sha256)\$([0-9a-fA-F]+)$/.exec(c.trim());
  if (!m) throw new ConnectorError(`input ${label}: checksum ${c} is not of the form sha1$<hex>`);
  return { algo: m[1] as 'sha1' | 'sha256', hex: m[2].toLowerCase() };
}

type FileHashes = { size: number; sha256: string; sha1?: string };

/** A file's size and sha256 (and sha1 when `checksum` is a sha1$), in one read. */
async function measureFile(file: string, checksum: string | undefined): Promise<FileHashes> {
  return hashFile(file, checksum?.trim().startsWith('sha1$') ? (['sha1', 'sha256'] as const) : (['sha256'] as const));
}

/** Checks measured bytes against the RED's checksum and size. */
function checkFile(h: FileHashes, file: string, label: string, checksum: string | undefined, size: number | undefined): { size: number; sha256: string } {
  const want = checksum ? parseChecksum(checksum, label) : undefined;
  if (want) {
    const got = want.algo === 'sha1' ? h.sha1 : h.sha256;
    if (got !== want.hex) {
      throw new ConnectorError(`input ${label}: checksum mismatch: the RED says ${want.algo}$${want.hex}, the data has ${want.algo}$${got} (${file}); the data changed or the checksum is wrong`);
    }
  }
  if (size !== undefined && size !== null && h.size !== size) {
    throw new ConnectorError(`input ${label}: size mismatch: the RED says ${size} bytes, the data has ${h.size} bytes (${file})`);
  }
  return { size: h.size, sha256: h.sha256 };
}

async function verifyFile(file: string, label: string, checksum: string | undefined, size: number | undefined): Promise<{ size: number; sha256: string }> {
  return checkFile(await measureFile(file, checksum), file, label, checksum, size);
}

/** Checks a Directory against its listing (every listed entry there, with checksum/size), as CC's agent does. */
export async function checkListing(dir: string, listing: ListingEntry[], label: string, rel = ''): Promise<void> {
  for (const e of listing) {
    if (!isSafeSegment(e?.basename)) throw new ConnectorError(`input ${label}: listing entry ${JSON.stringify(e?.basename)} is not a plain name`);
    const r = rel ? `${rel}/${e.basename}` : e.basename;
    const p = path.join(dir, e.basename);
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new ConnectorError(`input ${label}: the listing names ${r}, but it is not in ${dir}`);
    }
    if (e.class === 'Directory') {
      if (!st.isDirectory()) throw new ConnectorError(`input ${label}: the listing says ${r} is a Directory, but it is not`);
      if (e.listing) await checkListing(p, e.listing, label, r);
    } else {
      if (!st.isFile()) throw new ConnectorError(`input ${label}: the listing says ${r} is a File, but it is not`);
      if (e.checksum !== undefined || e.size !== undefined) await verifyFile(p, `${label} (${r})`, e.checksum, e.size);
    }
  }
}

/** An item checked and given its place, before any transfer. */
interface PlannedItem {
  item: InputItem;
  connector: InputConnector;
  dest: string;
}

interface StagedItem {
  bind: BindMount;
  rec: FileRecord;
}

/** Inputs received at once unless the registry or the caller says otherwise. */
export const DEFAULT_PARALLEL_TRANSFERS = 4;

/**
 * Stages every item, up to `parallel` (default: the registry's transferLimit, else 4) at
 * once. Checks that need no transfer (names, places, connectors) run first, in order, so
 * their errors do not depend on timing; then the first transfer that fails cancels the
 * others and is thrown (a ConnectorError naming its input). Binds and records come in
 * the items' order, however the transfers ended.
 */
export async function stageInputs(o: StageOptions): Promise<StagedBatchInputs> {
  const planned: PlannedItem[] = [];
  const usedTargets = new Map<string, string>();
  for (const item of o.items) {
    if (o.ctx.signal?.aborted) throw new ConnectorError('cancelled');
    const prev = usedTargets.get(item.mountPath);
    if (prev) throw new ConnectorError(`inputs ${prev} and ${item.label} both go to ${item.mountPath} in the container; give them different basename/dirname`);
    usedTargets.set(item.mountPath, item.label);
    const connector = o.registry.input(item.value.connector.command, item.label, item.value.class);
    if (!isSafeSegment(item.key)) throw new ConnectorError(`input name ${JSON.stringify(item.key)} cannot name a folder: use letters, digits, '-' or '_'`);
    const base = path.posix.basename(item.mountPath);
    if (!isSafeSegment(base)) throw new ConnectorError(`input ${item.label}: basename ${JSON.stringify(base)} is not a plain file name`);
    const holder = path.join(o.inputsDir, item.key, ...(item.index !== undefined ? [String(item.index)] : []));
    await mkdir(holder, { recursive: true });
    planned.push({ item, connector, dest: path.join(holder, base) });
  }

  const limit = o.parallel ?? o.registry.transferLimit ?? DEFAULT_PARALLEL_TRANSFERS;
  if (!Number.isInteger(limit) || limit < 1) throw new ConnectorError(`the number of inputs received at once must be a whole number of at least 1, not ${limit}`);
  const cache = o.cache === undefined ? o.registry.inputCache : (o.cache ?? undefined);
  // The first failure cancels the transfers still running (their "cancelled" is not the news).
  const stopAll = new AbortController();
  const onOuterAbort = () => stopAll.abort();
  o.ctx.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (o.ctx.signal?.aborted) stopAll.abort();
  const ctx: ConnectorContext = { ...o.ctx, signal: stopAll.signal };
  const results: StagedItem[] = new Array(planned.length);
  let failure: { err: unknown } | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!failure && next < planned.length) {
      const i = next++;
      try {
        results[i] = await stageItem(planned[i], ctx, o, cache);
      } catch (err) {
        if (!failure) {
          failure = { err };
          stopAll.abort();
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, planned.length) }, worker));
  } finally {
    o.ctx.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (failure) throw failure.err;
  if (o.ctx.signal?.aborted) throw new ConnectorError('cancelled');

  const binds: BindMount[] = [];
  const records: Record<string, FileRecord | FileRecord[]> = {};
  const containerPaths = new Map<string, string>();
  planned.forEach(({ item }, i) => {
    binds.push(results[i].bind);
    containerPaths.set(item.label, item.mountPath);
    if (item.index === undefined) records[item.key] = results[i].rec;
    else ((records[item.key] ??= []) as FileRecord[]).push(results[i].rec);
  });
  return { binds, records, containerPaths };
}

/** The source's identity for the input cache; undefined (no cache) when asking fails, unless the run was cancelled. */
async function identifyOrSkip(connector: InputConnector, req: InputStageRequest, ctx: ConnectorContext): Promise<SourceIdentity | undefined> {
  try {
    return await connector.identify!(req, ctx);
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    return undefined;
  }
}

/** One input through its connector (or the input cache), checked and measured. */
async function stageItem(p: PlannedItem, ctx: ConnectorContext, o: StageOptions, cache: InputCache | undefined): Promise<StagedItem> {
  const { item, connector, dest } = p;
  if (ctx.signal?.aborted) throw new ConnectorError(`input ${item.label}: cancelled`);
  const req: InputStageRequest = { key: item.key, index: item.index, label: item.label, value: item.value, dest };
  const command = item.value.connector.command;
  // Only files are cached; the source is asked first, every time, whether it changed. The cache
  // only saves time: a source that cannot be asked (refused, unreachable, login refused) is
  // received as without it, so the run fails or succeeds as it would, in the download's words.
  const identity = cache && item.value.class === 'File' && connector.identify ? await identifyOrSkip(connector, req, ctx) : undefined;
  let measured = cache && identity ? await fromCache(cache, command, identity, req, ctx) : undefined;
  // mount: true: a FUSE mount on the host, not a copy (neither hashed nor cached: it may be terabytes).
  // Connectors that cannot mount say themselves what they do with mount: true.
  const mount = item.value.connector.mount && canMount(connector) ? await mountInput(connector, req, ctx, o.mounts) : undefined;
  const staged: StagedInput = mount ?? (measured ? { hostPath: dest, copied: true } : await connector.stage(req, ctx));
  let size: number;
  let sha256 = '';
  if (item.value.class === 'File') {
    if (measured) ({ size, sha256 } = measured);
    else if (o.hashInputs === false && !identity && !item.value.checksum && item.value.size === undefined) size = (await stat(staged.hostPath)).size;
    else {
      measured = checkFile(await measureFile(staged.hostPath, item.value.checksum), staged.hostPath, item.label, item.value.checksum, item.value.size);
      ({ size, sha256 } = measured);
      if (cache && identity) {
        try {
          if (!(await cache.store(command, identity, staged.hostPath, sha256, size))) {
            ctx.onInfo?.(`input ${item.label}: not kept in the input cache (${size} bytes, more than its bound of ${cache.maxBytes})`);
          }
        } catch (err) {
          // The run has its input; only the next one misses the cache.
          ctx.onInfo?.(`input ${item.label}: could not keep it in the input cache ${cache.dir}: ${(err as Error).message}`);
        }
      }
    }
  } else {
    if (item.value.listing) await checkListing(staged.hostPath, item.value.listing, item.label);
    if (o.hashInputs === false || mount) size = 0;
    else {
      try {
        ({ size, sha256 } = await hashPath(staged.hostPath));
      } catch (err) {
        const st = await lstat(staged.hostPath).catch(() => undefined);
        throw new ConnectorError(`input ${item.label}: cannot read the folder ${staged.hostPath}${st ? '' : ' (gone)'}: ${(err as Error).message}`);
      }
    }
  }
  return {
    bind: { hostPath: staged.hostPath, containerPath: item.mountPath, readOnly: !mount?.writable },
    rec: { path: staged.hostPath, containerPath: item.mountPath, class: item.value.class, size, sha256 }
  };
}

/**
 * The input from the cache, when it has this version of the source: placed at req.dest,
 * measured and checked as a download would be. An object whose bytes are not its sha256
 * (damaged on disk) is dropped, and undefined sends the input to its connector.
 */
async function fromCache(cache: InputCache, command: string, id: SourceIdentity, req: InputStageRequest, ctx: ConnectorContext): Promise<{ size: number; sha256: string } | undefined> {
  const entry = await cache.lookup(command, id);
  if (!entry) return undefined;
  const placed = await cache.place(entry, req.dest);
  if (!placed) return undefined;
  const hashes = await measureFile(req.dest, req.value.checksum);
  if (hashes.sha256 !== entry.sha256) {
    await rm(req.dest, { force: true });
    await cache.forget(command, id, entry.sha256);
    ctx.onInfo?.(`input ${req.label}: the input cache's copy was damaged (sha256 ${hashes.sha256}, not ${entry.sha256}); dropped it, receiving the input again`);
    return undefined;
  }
  const checked = checkFile(hashes, req.dest, req.label, req.value.checksum, req.value.size);
  ctx.onInfo?.(`input ${req.label}: from the input cache (${entry.size} bytes, sha256 ${entry.sha256.slice(0, 12)}…; ${id.source} is unchanged)`);
  return checked;
}
