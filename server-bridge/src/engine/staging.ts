// Inputs onto the host before a batch's container starts: each File/Directory
// input goes through its connector into the batch's private work folder (local
// paths are pinned there too: copied or hard-linked, never bound in place), is
// checked against its checksum/size/listing, and becomes a read-only bind at its CC
// container path. Hashes are of that staged copy: what the container sees.
import { lstat, mkdir, stat } from 'fs/promises';
import * as path from 'path';
import { type CommandLineTool, type FileOrDirectory, type JobInputs, type ListingEntry, type FileRecord, CONTAINER_OUTPUTS_DIR, inputContainerPath, splitCwlType, toAbsoluteContainerPath } from '../../../src/red';
import { ConnectorError, type ConnectorContext } from '../connectors/types';
import type { ConnectorRegistry } from '../connectors/registry';
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
}

/** sha1$hex as CC writes checksums. */
function parseChecksum(c: string, label: string): { algo: 'sha1' | 'sha256'; hex: string } {
  const m = /^(sha1|sha256)\$([0-9a-fA-F]+)$/.exec(c.trim());
  if (!m) throw new ConnectorError(`input ${label}: checksum ${c} is not of the form sha1$<hex>`);
  return { algo: m[1] as 'sha1' | 'sha256', hex: m[2].toLowerCase() };
}

async function verifyFile(file: string, label: string, checksum: string | undefined, size: number | undefined): Promise<{ size: number; sha256: string }> {
  const want = checksum ? parseChecksum(checksum, label) : undefined;
  const h = await hashFile(file, want?.algo === 'sha1' ? (['sha1', 'sha256'] as const) : (['sha256'] as const));
  if (want) {
    const got = (h as Record<string, string>)[want.algo];
    if (got !== want.hex) {
      throw new ConnectorError(`input ${label}: checksum mismatch: the RED says ${want.algo}$${want.hex}, the data has ${want.algo}$${got} (${file}); the data changed or the checksum is wrong`);
    }
  }
  if (size !== undefined && size !== null && h.size !== size) {
    throw new ConnectorError(`input ${label}: size mismatch: the RED says ${size} bytes, the data has ${h.size} bytes (${file})`);
  }
  return { size: h.size, sha256: h.sha256 };
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

/** Stages every item; throws ConnectorError (naming the input) on the first failure. */
export async function stageInputs(o: StageOptions): Promise<StagedBatchInputs> {
  const binds: BindMount[] = [];
  const records: Record<string, FileRecord | FileRecord[]> = {};
  const containerPaths = new Map<string, string>();
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
    const dest = path.join(holder, base);
    const staged = await connector.stage({ key: item.key, index: item.index, label: item.label, value: item.value, dest }, o.ctx);
    let size: number;
    let sha256 = '';
    if (item.value.class === 'File') {
      if (o.hashInputs === false && !item.value.checksum && item.value.size === undefined) size = (await stat(staged.hostPath)).size;
      else ({ size, sha256 } = await verifyFile(staged.hostPath, item.label, item.value.checksum, item.value.size));
    } else {
      if (item.value.listing) await checkListing(staged.hostPath, item.value.listing, item.label);
      if (o.hashInputs === false) size = 0;
      else {
        try {
          ({ size, sha256 } = await hashPath(staged.hostPath));
        } catch (err) {
          const st = await lstat(staged.hostPath).catch(() => undefined);
          throw new ConnectorError(`input ${item.label}: cannot read the folder ${staged.hostPath}${st ? '' : ' (gone)'}: ${(err as Error).message}`);
        }
      }
    }
    binds.push({ hostPath: staged.hostPath, containerPath: item.mountPath, readOnly: true });
    containerPaths.set(item.label, item.mountPath);
    const rec: FileRecord = { path: staged.hostPath, containerPath: item.mountPath, class: item.value.class, size, sha256 };
    if (item.index === undefined) records[item.key] = rec;
    else ((records[item.key] ??= []) as FileRecord[]).push(rec);
  }
  return { binds, records, containerPaths };
}
