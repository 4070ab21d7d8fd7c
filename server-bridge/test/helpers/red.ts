// RED YAML for tests, loaded with the real loader, and a RunRequest around it.
import { mkdtemp, realpath, rm } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { RunEvent } from '../../../src/red/run';
import { loadRed } from '../../../src/red/validate';
import type { RunRequest } from '../../src/engine/types';

export const BUSYBOX = process.env.REDLAB_BUSYBOX_IMAGE ?? 'redlab/busybox:1';
export const PYTHON = process.env.REDLAB_PYTHON_IMAGE ?? 'redlab/debian-python:12';

const tempDirs: string[] = [];

/** A fresh folder under the OS temp dir (real path); removed by removeTempDirs(). */
export async function tempDir(prefix: string): Promise<string> {
  const d = await realpath(await mkdtemp(path.join(os.tmpdir(), prefix)));
  tempDirs.push(d);
  return d;
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
