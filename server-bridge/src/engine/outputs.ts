// Outputs after a batch's container exits: each cli output's glob is resolved in
// the batch's outputs folder (the container's /cc/outputs) as CC's agent does
// (one match for File/Directory, files only for File, folders only for
// Directory, hidden names only for patterns that start with '.'), never leaving
// that folder (no '..', no symlink pointing out), then moved to the batch outdir
// or sent through an output connector, and recorded with size and sha256.
import { cp, lstat, mkdir, readdir, readlink, realpath, rename, rm, stat, copyFile } from 'fs/promises';
import * as path from 'path';
import type { CommandLineTool, CwlFileOutput, JobInputs, JobOutputs } from '../../../src/red/types';
import type { FileRecord } from '../../../src/red/run';
import type { ConnectorContext } from '../connectors/types';
import type { ConnectorRegistry } from '../connectors/registry';
import { hashPath } from '../util/hash';
import { isWithin } from '../util/fs-safety';
import { parseCwlType } from './staging';
import { assertSafeGlob, globToRegExp, resolveGlobPattern, type ContainerPathOf } from './red-deps';

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
    const t = parseCwlType(def.type);
    if (t.base !== 'File' && t.base !== 'Directory') throw new OutputError(`cli.outputs.${key}: type ${def.type} is not File, Directory, stdout or stderr`);
    const field = `cli.outputs.${key}.outputBinding.glob`;
    const glob = (def as CwlFileOutput).outputBinding?.glob;
    if (typeof glob !== 'string' || !glob) throw new OutputError(`${field} is missing`);
    const resolved = resolveGlobPattern(glob, inputs, containerPathOf, floats);
    specs.push({ key, kind: t.base, optional: t.optional, pattern: checkPattern(resolved, field) });
  }
  return specs;
}

interface Match {
  rel: string;
  abs: string;
  /** Where the data is (the symlink's target when the match is a link inside the folder). */
  real: string;
}

/** Finds the entries of `root` a relative glob matches, checking symlinks stay inside. */
export async function matchGlob(root: string, spec: OutputSpec): Promise<Match[]> {
  const realRoot = await realpath(root);
  const segments = spec.pattern.split('/');
  const maxDepth = segments.includes('**') ? Infinity : segments.length - 1;
  const re = globToRegExp(spec.pattern);
  const found: Match[] = [];
  const wantFile = spec.kind !== 'Directory';
  async function walk(dir: string, rel: string, depth: number): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, e.name);
      // Symlinked folders are not walked into (as a match they are checked below).
      if (depth < maxDepth && e.isDirectory()) await walk(abs, r, depth + 1);
      if (!re.test(r)) continue;
      let real = abs;
      if (e.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(abs);
        } catch {
          continue; // dangling link: nothing there, as glob + isfile() would say
        }
        if (!isWithin(target, realRoot)) {
          const to = await readlink(abs).catch(() => target);
          throw new OutputError(`output ${spec.key}: ${r} is a symbolic link to ${to}, outside the outputs folder; outputs must be files written under /cc/outputs`);
        }
        real = target;
      }
      const st = await stat(real);
      if (wantFile ? st.isFile() : st.isDirectory()) found.push({ rel: r, abs, real });
    }
  }
  await walk(root, '', 0);
  return found.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}

/** Throws when a folder holds a symlink that points outside `realRoot`; returns whether it holds any symlink. */
async function checkTree(dir: string, realRoot: string, key: string, relBase: string): Promise<boolean> {
  let links = false;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    const r = `${relBase}/${e.name}`;
    if (e.isSymbolicLink()) {
      links = true;
      const target = await realpath(abs).catch(() => undefined);
      if (target && !isWithin(target, realRoot)) {
        const to = await readlink(abs).catch(() => target);
        throw new OutputError(`output ${key}: ${r} is a symbolic link to ${to}, outside the outputs folder`);
      }
    } else if (e.isDirectory()) {
      if (await checkTree(abs, realRoot, key, r)) links = true;
    }
  }
  return links;
}

async function listForMessage(root: string): Promise<string> {
  const names = await readdir(root).catch(() => [] as string[]);
  if (!names.length) return 'the outputs folder is empty';
  const shown = names.sort().slice(0, 10);
  return `the outputs folder has ${shown.join(', ')}${names.length > shown.length ? `, … (${names.length} entries)` : ''}`;
}

/** Finds exactly one match (or none for an optional output / a partial collection). */
export async function resolveOutput(root: string, spec: OutputSpec, partial: boolean, contents?: string): Promise<Match | null> {
  const matches = await matchGlob(root, spec);
  const what = spec.kind === 'Directory' ? 'folder' : 'file';
  if (matches.length > 1) {
    throw new OutputError(`output ${spec.key}: glob ${spec.pattern} matches ${matches.length} ${what}s (${matches.map(m => m.rel).join(', ')}); it must match one, so make the glob more specific`);
  }
  if (!matches.length) {
    if (spec.optional || partial) return null;
    throw new OutputError(`output ${spec.key}: no ${what} matches glob ${spec.pattern} in /cc/outputs (${contents ?? (await listForMessage(root))}); check cli.outputs.${spec.key} and that the command writes it in its working directory`);
  }
  return matches[0];
}

async function moveOrCopy(src: string, dest: string, isDir: boolean, deref: boolean): Promise<void> {
  await rm(dest, { recursive: true, force: true });
  if (!deref) {
    try {
      await rename(src, dest);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    }
  }
  if (isDir) await cp(src, dest, { recursive: true, dereference: true });
  else await copyFile(src, dest);
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
}

export interface CollectResult {
  records: Record<string, FileRecord | null>;
  errors: string[];
}

export async function collectOutputs(o: CollectOptions): Promise<CollectResult> {
  const records: Record<string, FileRecord | null> = {};
  const errors: string[] = [];
  const realRoot = await realpath(o.outputsDir);
  const destOwners = new Map<string, string>();
  const delivered = new Map<string, string>();
  // What the command left, before anything is moved out (for messages).
  const contents = await listForMessage(o.outputsDir);
  for (const key of Object.keys(o.jobOutputs ?? {})) {
    if (!o.specs.some(s => s.key === key)) errors.push(`outputs.${key} has no matching cli.outputs.${key}`);
  }
  for (const spec of o.specs) {
    try {
      const match = await resolveOutput(o.outputsDir, spec, o.partial, contents);
      if (!match) {
        records[spec.key] = null;
        continue;
      }
      const isDir = spec.kind === 'Directory';
      const hasLinks = isDir ? await checkTree(match.real, realRoot, spec.key, match.rel) : match.real !== match.abs;
      const target = o.jobOutputs?.[spec.key];
      if (target && o.sendOutputs && !o.partial) {
        const cls = isDir ? 'Directory' : 'File';
        const connector = o.registry.output(target.connector?.command, spec.key, cls);
        const h = await hashPath(match.real);
        const sent = await connector.send({ key: spec.key, class: cls, hostPath: match.real, access: target.connector.access ?? {} }, o.ctx);
        records[spec.key] = { path: sent.target, containerPath: `/cc/outputs/${match.rel}`, class: cls, size: h.size, sha256: h.sha256, connector: connector.command };
        continue;
      }
      const name = path.basename(match.rel);
      const owner = destOwners.get(name);
      if (owner) throw new OutputError(`outputs ${owner} and ${spec.key} are both named ${name}; the outdir cannot hold both (rename one in the command or its glob)`);
      destOwners.set(name, spec.key);
      await mkdir(o.outdir, { recursive: true });
      const dest = path.join(o.outdir, name);
      const already = delivered.get(match.real);
      if (already) await moveOrCopy(already, dest, isDir, true);
      else await moveOrCopy(match.real, dest, isDir, hasLinks);
      delivered.set(match.real, dest);
      const h = await hashPath(dest);
      const rec: FileRecord = { path: dest, containerPath: `/cc/outputs/${match.rel}`, class: h.class, size: h.size, sha256: h.sha256 };
      if (o.partial) rec.partial = true;
      records[spec.key] = rec;
    } catch (err) {
      records[spec.key] = null;
      errors.push(o.ctx.masker.mask((err as Error).message));
    }
  }
  return { records, errors };
}

/** Whether a path exists (lstat). */
export async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false
  );
}
