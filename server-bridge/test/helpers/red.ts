// RED YAML for tests, loaded with the real loader, and a RunRequest around it; the
// set-up of a test file on the real Docker engine.
import { spawn } from 'child_process';
import { randomUUID } from 'crypto';
import type Docker from 'dockerode';
import { mkdtemp, realpath, rm } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import type { RunEvent } from '../../../src/red/run';
import { loadRed } from '../../../src/red/validate';
import { createDockerClient } from '../../src/engine/docker-client';
import type { RunRequest } from '../../src/engine/types';

export const BUSYBOX = process.env.REDLAB_BUSYBOX_IMAGE ?? 'redlab/busybox:1';
export const PYTHON = process.env.REDLAB_PYTHON_IMAGE ?? 'redlab/debian-python:12';
/** PYTHON plus Debian's python3-ipykernel and python3-nbclient (.ci/base-images.sh). */
export const IPYKERNEL = process.env.REDLAB_IPYKERNEL_IMAGE ?? 'redlab/debian-ipykernel:12';
/** PYTHON plus Debian's python3-matplotlib, -numpy and -pandas (.ci/base-images.sh). */
export const SCIPY = process.env.REDLAB_SCIPY_IMAGE ?? 'redlab/debian-scipy:12';

const tempDirs: string[] = [];

/** A fresh folder under the OS temp dir (real path); removed by removeTempDirs(). */
export async function tempDir(prefix: string): Promise<string> {
  const d = await realpath(await mkdtemp(path.join(os.tmpdir(), prefix)));
  tempDirs.push(d);
  return d;
}

/** A fresh folder for a run (tempDir) with the engine's work root and the outdir in it. */
export async function runDirs(prefix: string): Promise<{ dir: string; workRoot: string; outdir: string }> {
  const dir = await tempDir(prefix);
  return { dir, workRoot: path.join(dir, 'work'), outdir: path.join(dir, 'outputs') };
}

export async function removeTempDirs(): Promise<void> {
  for (const d of tempDirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export function request(yamlText: string, dir: string, over: Partial<RunRequest> = {}): RunRequest {
  return {
    loaded: loadRed(yamlText, { source: 'test.red.yml' }),
    baseDir: dir,
    outdir: path.join(dir, 'outputs'),
    allowedRoots: [dir],
    parallel: 1,
    leaveContainer: false,
    ...over
  };
}

export function collectEvents(): { events: RunEvent[]; onEvent: (e: RunEvent) => void; logs: (stream?: 'stdout' | 'stderr', batch?: number) => string } {
  const events: RunEvent[] = [];
  return {
    events,
    onEvent: e => events.push(e),
    logs: (stream, batch) =>
      events
        .filter((e): e is Extract<RunEvent, { type: 'log' }> => e.type === 'log' && (!stream || e.stream === stream) && (batch === undefined || e.batch === batch))
        .map(e => e.data)
        .join('')
  };
}

/** Containers carrying a test label (all states). */
export async function containersWithLabel(docker: import('dockerode'), label: string, value: string): Promise<import('dockerode').ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${label}=${value}`] } });
}

export async function removeContainersWithLabel(docker: import('dockerode'), label: string, value: string): Promise<void> {
  for (const c of await containersWithLabel(docker, label, value)) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
}

/** The label the integration tests put on their containers, with a value of each test file's own. */
export const TEST_LABEL = 'org.redlab.test';

/**
 * A test file's set-up on the real Docker engine (call it at the file's top level): a
 * client and the labels for its runs (a TEST_LABEL value of its own, `testId`); after
 * all its tests, its containers and the temp dirs are removed.
 */
export function dockerTestFile(): { docker: Docker; testId: string; labels: Record<string, string> } {
  const docker = createDockerClient();
  const testId = randomUUID();
  afterAll(async () => {
    await removeContainersWithLabel(docker, TEST_LABEL, testId);
    await removeTempDirs();
  });
  return { docker, testId, labels: { [TEST_LABEL]: testId } };
}

/** What a "bridge" killed mid-run (crashRun) had sent by then. */
export interface Crash {
  containerId?: string;
  /** What a store would hold: the log data the dead bridge had sent. */
  stored: { stdout: string; stderr: string };
  bytes: { stdout: number; stderr: number };
  events: RunEvent[];
}

/**
 * Runs `job.red` in a child process (the "bridge", helpers/engine-child.js: its job
 * says what) and SIGKILLs it as soon as `killWhen` says so; returns what the parent
 * had received by then.
 */
export function crashRun(
  job: { red: string; dir: string; outdir: string; workRoot: string; runId: string; labels: Record<string, string>; secrets?: string[]; engine?: 'docker' | 'slurm'; env?: NodeJS.ProcessEnv },
  killWhen: (c: Crash) => boolean
): Promise<Crash> {
  const crash: Crash = { stored: { stdout: '', stderr: '' }, bytes: { stdout: 0, stderr: 0 }, events: [] };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'engine-child.js'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let killed = false;
    let stderr = '';
    child.stderr.on('data', d => (stderr += d));
    readline.createInterface({ input: child.stdout }).on('line', line => {
      if (killed) return; // sent, but never "stored"
      const parsed = JSON.parse(line) as { type: string };
      if (parsed.type === 'x-result' || parsed.type === 'x-error') return reject(new Error(`the child finished before it was killed: ${line}`));
      const e = parsed as RunEvent;
      crash.events.push(e);
      if (e.type === 'container') crash.containerId = e.containerId;
      if (e.type === 'log') {
        crash.stored[e.stream] += e.data;
        crash.bytes[e.stream] += Buffer.byteLength(e.data);
      }
      if (killWhen(crash)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(crash) : reject(new Error(`the child exited with ${code}: ${stderr}`))));
  });
}
