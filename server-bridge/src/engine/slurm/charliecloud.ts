// Images for Charliecloud: the RED's image, as this host's Docker has it (pulled when it
// can be), converted once per image ID with `ch-convert -i docker -o dir` into a directory
// tree in the shared work folder, where every node's ch-run finds it. A tree is made under
// a temporary name and renamed when whole, so a tree under its final name is always
// complete, and jobs of many runs share it (ch-run mounts it read-only).
import type Docker from 'dockerode';
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import { mkdir, rename, rm, stat } from 'fs/promises';
import * as path from 'path';
import type { RunEvent } from '../../../../src/red';
import { ensureImage, type ResolvedImage } from '../image';
import { SafeDir, UnsafePathError, withDir } from '../../util/safe-fs';

/** Folders and files ch-run needs in an image: it binds the host's passwd/group over them and our batch folders onto /cc. */
const NEEDED_DIRS = ['tmp', 'home', 'cc/inputs', 'cc/outputs'];
const NEEDED_FILES = ['etc/passwd', 'etc/group'];

export interface PreparedImage {
  /** The image tree ch-run runs. */
  dir: string;
  image: ResolvedImage;
  /** False when an earlier run had converted it already. */
  converted: boolean;
}

export interface PrepareImageOptions {
  docker: Docker;
  url: string;
  auth?: Record<string, unknown>;
  /** `<work folder>/charliecloud-images` */
  imagesRoot: string;
  signal?: AbortSignal;
  onProgress?: (e: Extract<RunEvent, { type: 'pull-progress' }>) => void;
  onInfo?: (message: string) => void;
  pull?: 'missing' | 'never';
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    s => s.isDirectory(),
    () => false
  );
}

function chConvert(source: string, dest: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ch-convert', ['-i', 'docker', '-o', 'dir', source, dest], { signal, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new Error("ch-convert is not on this host's PATH: install Charliecloud (Debian: apt-get install charliecloud), or give the Slurm engine another runtime"));
      }
      reject(new Error(`ch-convert could not convert ${source} for Charliecloud: ${(String(stderr) || err.message).trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

/** Charliecloud's version on this host, whose ch-convert prepares the images; throws saying how to get it. */
export function charliecloudVersion(): Promise<string> {
  return new Promise((resolve, reject) =>
    // ch-convert prints its version on stderr.
    execFile('ch-convert', ['--version'], { timeout: 10_000 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        return reject(new Error("Charliecloud's ch-convert is not on this host's PATH: install Charliecloud (Debian: apt-get install charliecloud; at HPC centres often a module: module load charliecloud)"));
      }
      if (err) return reject(new Error(`ch-convert --version failed: ${String(stderr || err.message).trim()}`));
      resolve(`${stdout}${stderr}`.trim());
    })
  );
}

/**
 * The folders and files ch-run needs in the tree, made without following anything the image
 * holds: an image is anyone's, and a link at /cc or /etc/passwd would otherwise send these
 * writes (as this host's user) anywhere on the host. A link there is refused.
 */
async function addMountPoints(tree: string, url: string): Promise<void> {
  const refuse = (p: string) =>
    new Error(`image ${url}: /${p} is a link (or not a ${NEEDED_FILES.includes(p) ? 'file' : 'folder'}) in the image; Charliecloud binds the run's folders there, so the Slurm engine cannot run it: make it a real ${NEEDED_FILES.includes(p) ? 'file' : 'folder'} in the image, or run the RED on the docker engine`);
  await withDir(SafeDir.open(tree, 'the image tree'), async root => {
    for (const d of NEEDED_DIRS) {
      try {
        await withDir(root.openDir(d, { create: true, mode: 0o755 }), async () => undefined);
      } catch (err) {
        if (err instanceof UnsafePathError) throw refuse(d);
        throw err;
      }
    }
    for (const f of NEEDED_FILES) {
      const [dir, name] = [path.posix.dirname(f), path.posix.basename(f)];
      try {
        await withDir(root.openDir(dir, { create: true, mode: 0o755 }), async parent => {
          const st = await parent.lstat(name).catch(() => undefined);
          if (!st) await (await parent.createFile(name, 0o644)).close();
          else if (!st.isFile()) throw refuse(f);
        });
      } catch (err) {
        if (err instanceof UnsafePathError) throw refuse(f);
        throw err;
      }
    }
  });
}

/** One conversion per image ID at a time in this process: batches of one run share it. */
const inFlight = new Map<string, Promise<string>>();

export async function prepareCharliecloudImage(o: PrepareImageOptions): Promise<PreparedImage> {
  const image = await ensureImage(o.docker, o.url, { auth: o.auth, signal: o.signal, onProgress: o.onProgress, pull: o.pull });
  const key = image.id.replace(/^sha256:/, '');
  const dir = path.join(o.imagesRoot, key);
  if (await isDir(dir)) return { dir, image, converted: false };
  let job = inFlight.get(key);
  let converted = false;
  if (!job) {
    converted = true;
    job = convert(o, image, key, dir).finally(() => inFlight.delete(key));
    inFlight.set(key, job);
  }
  await job;
  return { dir, image, converted };
}

async function convert(o: PrepareImageOptions, image: ResolvedImage, key: string, dir: string): Promise<string> {
  await mkdir(o.imagesRoot, { recursive: true, mode: 0o700 });
  const part = `${dir}.part-${randomBytes(4).toString('hex')}`;
  // ch-convert reads Docker's storage by name, not by ID: a private tag pins the ID checked above.
  const tag = { repo: 'redlab-charliecloud-source', tag: key.slice(0, 64) };
  const img = o.docker.getImage(image.id);
  o.onInfo?.(`converting image ${o.url} (${image.id.slice(7, 19)}) for Charliecloud, once per image: ${dir}`);
  try {
    await img.tag(tag);
    await chConvert(`${tag.repo}:${tag.tag}`, part, o.signal);
    await addMountPoints(part, o.url);
    await rename(part, dir).catch(async err => {
      // Another process made it meanwhile: theirs is as good.
      if (!(await isDir(dir))) throw err;
    });
  } finally {
    await rm(part, { recursive: true, force: true }).catch(() => undefined);
    await o.docker
      .getImage(`${tag.repo}:${tag.tag}`)
      .remove({ noprune: true })
      .catch(() => undefined);
  }
  return dir;
}
