// Outputs after a batch's container exits: each cli output's glob is resolved in
// the batch's outputs folder (the container's /cc/outputs) as CC's agent does
// (one match for File/Directory, files only for File, folders only for
// Directory, hidden names only for patterns that start with '.'), never leaving
// that folder (no '..', no symlink pointing out: links are read as the container
// sees them, never followed on the host; see util/safe-fs.ts), then copied to the
// batch outdir or sent through an output connector, and recorded with size and
// sha256 of the bytes copied.
import { createHash, randomUUID } from 'crypto';
import type { Stats } from 'fs';
import { lstat, mkdir, mkdtemp, readdir, rmdir } from 'fs/promises';
import * as path from 'path';
import { type CommandLineTool, type CwlFileOutput, type JobInputs, type JobOutputs, type FileRecord, assertSafeGlob, CONTAINER_OUTPUTS_DIR, globToRegExp, resolveGlobPattern, splitCwlType, type ContainerPathOf } from '../../../src/red';
import type { ConnectorContext } from '../connectors/types';
import type { ConnectorRegistry } from '../connectors/registry';
import { placeFile, removeTree, SafeDir, segments, UnsafePathError, withDir } from '../util/safe-fs';

/** How messages name the tree outputs are collected from. */
export const OUTPUTS_FOLDER = 'the outputs folder';

export type OutputKind = 'File' | 'Directory' | 'stdout' | 'stderr';

export interface OutputSpec {
  key: string;
  kind: OutputKind;
  optional: boolean;
  /** Relative pattern under /cc/outputs (a plain file name for stdout/stderr). */
  pattern: string;
}

export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

/** A relative glob that cannot leave the outputs folder. */
export function checkPattern(pattern: string, field: string): string {
  let p = pattern.trim();
  while (p.startsWith('./')) p = p.slice(2);
  p = p.replace(/\/+$/, '');
  assertSafeGlob(p, field);
  if (!p || p.startsWith('/') || p.includes('\0') || p.split('/').some(s => s === '..' || s === '')) {
    throw new OutputError(`${field}: glob ${JSON.stringify(pattern)} must be a relative path inside the outputs folder (no '/' at the start, no '..')`);
  }
  return p;
}

/** The outputs a batch must collect, with globs resolved against its inputs. */
export function planOutputs(
  cli: CommandLineTool,
  inputs: JobInputs,
  containerPathOf: ContainerPathOf,
  streams: { stdout?: string; stderr?: string },
  floats: { floatPaths?: ReadonlySet<string>; floatPathPrefix?: string } = {}
): OutputSpec[] {
  const specs: OutputSpec[] = [];
  for (const [key, def] of Object.entries(cli.outputs ?? {})) {
    if (def.type === 'stdout' || def.type === 'stderr') {
      const name = streams[def.type];
      if (!name) throw new OutputError(`cli.outputs.${key} is ${def.type}, but no ${def.type} file name is known`);
      specs.push({ key, kind: def.type, optional: false, pattern: checkPattern(name, `cli.${def.type}`) });
      continue;
    }
    const t = splitCwlType(def.type);
    if (t.base !== 'File' && t.base !== 'Directory') throw new OutputError(`cli.outputs.${key}: type ${def.type} is not File, Directory, stdout or stderr`);
    const field = `cli.outputs.${key}.outputBinding.glob`;
    const glob = (def as CwlFileOutput).outputBinding?.glob;
    if (typeof glob !== 'string' || !glob) throw new OutputError(`${field} is missing`);
    const resolved = resolveGlobPattern(glob, inputs, containerPathOf, floats);
    specs.push({ key, kind: t.base, optional: t.optional, pattern: checkPattern(resolved, field) });
  }
  return specs;
}

export interface Match {
  /** The path the glob matched, relative to the outputs folder. */
  rel: string;
  /** Where its data is, relative to the outputs folder: `rel`, or where a link at `rel` leads (no link in it). */
  target: string;
}

/** A link in the outputs folder whose target is outside it. */
class LinkOutside extends Error {
  constructor(
    readonly rel: string,
    readonly to: string
  ) {
    super(`${rel} is a symbolic link to ${to}, outside the outputs folder`);
  }
}

/**
 * Where a link at `rel` with target `to` leads, relative to the outputs folder, read as
 * the container sees it (an absolute target under /cc/outputs is inside), or undefined
 * when it leads out. Worked out on the text: the host never follows the link.
 */
function linkTarget(rel: string, to: string): string | undefined {
  let joined: string;
  if (to.startsWith('/')) {
    if (to !== CONTAINER_OUTPUTS_DIR && !to.startsWith(CONTAINER_OUTPUTS_DIR + '/')) return undefined;
    joined = to.slice(CONTAINER_OUTPUTS_DIR.length + 1);
  } else joined = path.posix.join(path.posix.dirname(rel), to);
  const n = path.posix.normalize(joined || '.');
  if (n === '..' || n.startsWith('../') || n.startsWith('/')) return undefined;
  return n === '.' ? '' : n;
}

const MAX_LINK_HOPS = 40;

/**
 * `rel` with every link in it replaced by where it leads inside the outputs folder,
 * and lstat of what is there; undefined when nothing is (a dangling link). A link that
 * leads out throws LinkOutside.
 */
async function resolveInTree(root: SafeDir, rel: string, hops = 0): Promise<{ rel: string; stat: Stats } | undefined> {
  const parts = segments(rel);
  if (!parts.length) return { rel: '', stat: await lstat(root.path) };
  for (let i = 0; i < parts.length; i++) {
    const parent = parts.slice(0, i).join('/');
    const here = parts.slice(0, i + 1).join('/');
    const found = await withDir(root.openDir(parent), async d => {
      const st = await d.lstat(parts[i]);
      return { st, to: st.isSymbolicLink() ? await d.readlink(parts[i]) : '' };
    }).catch(err => {
      if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw err;
    });
    if (!found) return undefined;
    if (found.st.isSymbolicLink()) {
      if (hops >= MAX_LINK_HOPS) throw new OutputError(`${here}: too many levels of symbolic links`);
      const next = linkTarget(here, found.to);
      if (next === undefined) throw new LinkOutside(here, found.to);
      return resolveInTree(root, [next, ...parts.slice(i + 1)].filter(Boolean).join('/'), hops + 1);
    }
    if (i === parts.length - 1) return { rel: here, stat: found.st };
    if (!found.st.isDirectory()) return undefined;
  }
  return undefined;
}

/** Finds the entries of the outputs folder a relative glob matches; links are resolved inside the folder, never followed out. */
export async function matchGlob(root: string | SafeDir, spec: OutputSpec): Promise<Match[]> {
  if (typeof root === 'string') return withDir(SafeDir.open(root, OUTPUTS_FOLDER), d => matchGlob(d, spec));
  const top = root;
  const segs = spec.pattern.split('/');
  const maxDepth = segs.includes('**') ? Infinity : segs.length - 1;
  const re = globToRegExp(spec.pattern);
  const found: Match[] = [];
  const wantFile = spec.kind !== 'Directory';
  const outside = (err: unknown) =>
    err instanceof LinkOutside ? new OutputError(`output ${spec.key}: ${err.message}; outputs must be files written under /cc/outputs`) : err;
  // A linked folder is walked into (as Python's glob does) where a segment of the
  // pattern names it, resolved inside the outputs folder; with ** only real folders.
  const segRes = segs.map(seg => (seg === '**' ? undefined : globToRegExp(seg)));
  const descendsInto = (name: string, depth: number) => !segs.includes('**') && !!segRes[depth]?.test(name);
  // `rel`: the path as the glob sees it; `real`: where that is, no link in it.
  async function walk(dir: SafeDir, rel: string, real: string, depth: number): Promise<void> {
    let entries;
    try {
      entries = await dir.entries();
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const realR = real ? `${real}/${e.name}` : e.name;
      if (depth < maxDepth && e.isDirectory()) {
        await withDir(dir.openDir(e.name), sub => walk(sub, r, realR, depth + 1)).catch(err => {
          if (!(err instanceof UnsafePathError)) throw err;
        });
      } else if (depth < maxDepth && e.isSymbolicLink() && descendsInto(e.name, depth)) {
        const into = await resolveInTree(top, realR).catch(err => Promise.reject(outside(err)));
        if (into?.stat.isDirectory()) await withDir(top.openDir(into.rel), sub => walk(sub, r, into.rel, depth + 1));
      }
      if (!re.test(r)) continue;
      let target: { rel: string; stat: Stats } | undefined;
      try {
        target = e.isSymbolicLink() ? await resolveInTree(top, realR) : { rel: realR, stat: await dir.lstat(e.name) };
      } catch (err) {
        throw outside(err);
      }
      if (!target) continue; // a dangling link: nothing there, as glob + isfile() would say
      if (wantFile ? target.stat.isFile() : target.stat.isDirectory()) found.push({ rel: r, target: target.rel });
    }
  }
  await walk(root, '', '', 0);
  return found.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}

async function listForMessage(root: string): Promise<string> {
  const names = await readdir(root).catch(() => [] as string[]);
  if (!names.length) return 'the outputs folder is empty';
  const shown = names.sort().slice(0, 10);
  return `the outputs folder has ${shown.join(', ')}${names.length > shown.length ? `, … (${names.length} entries)` : ''}`;
}

/** Finds exactly one match (or none for an optional output / a partial collection). */
export async function resolveOutput(root: string | SafeDir, spec: OutputSpec, partial: boolean, contents?: string): Promise<Match | null> {
  const matches = await matchGlob(root, spec);
  const what = spec.kind === 'Directory' ? 'folder' : 'file';
  if (matches.length > 1) {
    throw new OutputError(`output ${spec.key}: glob ${spec.pattern} matches ${matches.length} ${what}s (${matches.map(m => m.rel).join(', ')}); it must match one, so make the glob more specific`);
  }
  if (!matches.length) {
    if (spec.optional || partial) return null;
    const listing = contents ?? (await listForMessage(typeof root === 'string' ? root : root.path));
    throw new OutputError(`output ${spec.key}: no ${what} matches glob ${spec.pattern} in /cc/outputs (${listing}); check cli.outputs.${spec.key} and that the command writes it in its working directory`);
  }
  return matches[0];
}

interface Copied {
  class: 'File' | 'Directory';
  size: number;
  sha256: string;
  /** A folder's files as hashed on the way (the run record lists them: never hashed twice). */
  files?: { path: string; sha256: string; size: number }[];
}

/** Puts the regular file at `rel` (no link in it) below `root` into `to` as `name` (placeFile: a copy or a hard link). */
async function copyFileAt(root: SafeDir, rel: string, to: SafeDir, name: string): Promise<{ size: number; sha256: string }> {
  const parts = segments(rel);
  return withDir(root.openDir(parts.slice(0, -1).join('/')), dir => placeFile(dir, parts[parts.length - 1], rel, to, name));
}

/**
 * Copies what is at `target` (relative to the outputs folder `root`, no link in it) to
 * a new entry `name` in `to`, reading the outputs folder only through descriptors, and
 * hashes it on the way (a folder's hash as hashPath makes it). Links inside a copied
 * folder are resolved inside the outputs folder (one leading out is an error naming
 * `key`), FIFOs, sockets and devices are left out.
 */
async function copyOut(root: SafeDir, target: string, to: SafeDir, name: string, key: string): Promise<Copied> {
  const parts = segments(target);
  if (!parts.length) throw new OutputError(`output ${key}: it is the whole outputs folder; name a file or folder inside it`);
  const st = await withDir(root.openDir(parts.slice(0, -1).join('/')), d => d.lstat(parts[parts.length - 1]));
  if (st.isFile()) return { class: 'File', ...(await copyFileAt(root, target, to, name)) };
  const files: { rel: string; sha256: string; size: number }[] = [];
  let size = 0;
  const copyDir = async (srcRel: string, dest: SafeDir, rel: string, ancestors: Set<string>): Promise<void> => {
    await withDir(root.openDir(srcRel), async src => {
      for (const e of await src.entries()) {
        const inTree = `${srcRel}/${e.name}`;
        const r = rel ? `${rel}/${e.name}` : e.name;
        let at = { rel: inTree, stat: await src.lstat(e.name) };
        if (at.stat.isSymbolicLink()) {
          let resolved;
          try {
            resolved = await resolveInTree(root, inTree);
          } catch (err) {
            if (err instanceof LinkOutside) throw new OutputError(`output ${key}: ${err.message}`);
            throw err;
          }
          if (!resolved) continue; // dangling: nothing to copy
          at = resolved;
        }
        if (at.stat.isDirectory()) {
          const id = `${at.stat.dev}:${at.stat.ino}`;
          if (ancestors.has(id)) throw new OutputError(`output ${key}: ${inTree} is a link to a folder that holds it (a loop)`);
          await withDir(dest.openDir(e.name, { create: true }), sub => copyDir(at.rel, sub, r, new Set([...ancestors, id])));
        } else if (at.stat.isFile()) {
          // In this folder: no walk from the root (a link's target: walked to, through no link).
          const h = at.rel === inTree ? await placeFile(src, e.name, inTree, dest, e.name) : await copyFileAt(root, at.rel, dest, e.name);
          size += h.size;
          files.push({ rel: r, sha256: h.sha256, size: h.size });
        }
        // sockets, FIFOs, devices: not data, left out (as hashPath does)
      }
    });
  };
  await withDir(to.openDir(name, { create: true }), dest => copyDir(target, dest, '', new Set([`${st.dev}:${st.ino}`])));
  const tree = createHash('sha256');
  for (const f of files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))) tree.update(`${f.rel}\0${f.sha256}\n`);
  return { class: 'Directory', size, sha256: tree.digest('hex'), files: files.map(f => ({ path: f.rel, sha256: f.sha256, size: f.size })) };
}

/** Copies an output into `dir` as `name`, replacing what was there only once the copy is whole. */
async function deliver(root: SafeDir, target: string, dir: string, name: string, key: string): Promise<Copied> {
  return withDir(SafeDir.open(dir, 'the outdir'), async to => {
    const tmp = `.redlab-${randomUUID().slice(0, 8)}-${name}`.slice(0, 255);
    try {
      const copied = await copyOut(root, target, to, tmp, key);
      await to.remove(name);
      await to.rename(tmp, to, name);
      return copied;
    } catch (err) {
      await to.remove(tmp).catch(() => undefined);
      throw err;
    }
  });
}

export interface CollectOptions {
  specs: OutputSpec[];
  /** The batch's outputs folder (bound at /cc/outputs). */
  outputsDir: string;
  /** Where local outputs go (created when needed). */
  outdir: string;
  /** The batch's job `outputs` (connectors). */
  jobOutputs?: JobOutputs;
  registry: ConnectorRegistry;
  ctx: ConnectorContext;
  /** Send outputs that have a connector (else they go to outdir too). */
  sendOutputs: boolean;
  /** The batch failed or was cancelled: take what is there, mark it partial, send nothing, no errors for missing outputs. */
  partial: boolean;
  /** A folder no container can reach, where outputs are copied before a connector reads them (default: the outputs folder's parent). */
  scratchDir?: string;
}

export interface CollectResult {
  records: Record<string, FileRecord | null>;
  errors: string[];
}

/**
 * Copies each output out of the outputs folder (which is left as it is, so that a
 * bridge that dies meanwhile can collect again) into the outdir, or sends it through
 * its connector, with size and sha256 of the bytes copied.
 */
export async function collectOutputs(o: CollectOptions): Promise<CollectResult> {
  const records: Record<string, FileRecord | null> = {};
  const errors: string[] = [];
  const destOwners = new Map<string, string>();
  // What the command left (for messages).
  const contents = await listForMessage(o.outputsDir);
  for (const key of Object.keys(o.jobOutputs ?? {})) {
    if (!o.specs.some(s => s.key === key)) errors.push(`outputs.${key} has no matching cli.outputs.${key}`);
  }
  const outdirExisted = await exists(o.outdir);
  await withDir(SafeDir.open(o.outputsDir, OUTPUTS_FOLDER), async root => {
    for (const spec of o.specs) {
      try {
        const match = await resolveOutput(root, spec, o.partial, contents);
        if (!match) {
          records[spec.key] = null;
          continue;
        }
        const isDir = spec.kind === 'Directory';
        const containerPath = `${CONTAINER_OUTPUTS_DIR}/${match.rel}`;
        const name = path.basename(match.rel);
        const target = o.jobOutputs?.[spec.key];
        if (target && o.sendOutputs && !o.partial) {
          const cls = isDir ? 'Directory' : 'File';
          const connector = o.registry.output(target.connector?.command, spec.key, cls);
          // The connector reads a copy in a folder no container can reach.
          const scratch = await mkdtemp(path.join(o.scratchDir ?? path.dirname(path.resolve(o.outputsDir)), '.redlab-send-'));
          try {
            const h = await deliver(root, match.target, scratch, name, spec.key);
            const sent = await connector.send({ key: spec.key, class: cls, hostPath: path.join(scratch, name), access: target.connector.access ?? {} }, o.ctx);
            records[spec.key] = { path: sent.target, containerPath, class: cls, size: h.size, sha256: h.sha256, connector: connector.command };
          } finally {
            await removeTree(scratch).catch(() => undefined);
          }
          continue;
        }
        const owner = destOwners.get(name);
        if (owner) throw new OutputError(`outputs ${owner} and ${spec.key} are both named ${name}; the outdir cannot hold both (rename one in the command or its glob)`);
        destOwners.set(name, spec.key);
        await mkdir(o.outdir, { recursive: true });
        const h = await deliver(root, match.target, o.outdir, name, spec.key);
        const rec: FileRecord = { path: path.join(o.outdir, name), containerPath, class: h.class, size: h.size, sha256: h.sha256 };
        if (h.files) rec.files = h.files;
        if (o.partial) rec.partial = true;
        records[spec.key] = rec;
      } catch (err) {
        records[spec.key] = null;
        const msg = err instanceof UnsafePathError ? `output ${spec.key}: ${err.message}` : (err as Error).message;
        errors.push(msg);
      }
    }
  });
  // Nothing collected: no empty outdir left behind.
  if (!outdirExisted) await rmdir(o.outdir).catch(() => undefined);
  return { records, errors };
}

/** Whether a path exists (lstat). */
export async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false
  );
}
