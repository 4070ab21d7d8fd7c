// A bridge that dies mid-run (SIGKILL of a real process that runs DockerEngine.run)
// and the engine that takes its batches up again with resumeBatch: the log ends
// complete without a gap or a duplicate, outputs are collected from the work
// folder, a container that is gone or never started fails the batch with a reason.
import { randomUUID } from 'crypto';
import { mkdir, readFile, readdir } from 'fs/promises';
import * as path from 'path';
import { MASK } from '../../../src/red/mask';
import type { RunEvent } from '../../../src/red/run';
import { loadRed } from '../../../src/red/validate';
import { DockerEngine, NEVER_CREATED_MESSAGE, NEVER_STARTED_MESSAGE, VANISHED_MESSAGE } from '../../src/engine/docker';
import { buildCreateOptions } from '../../src/engine/host-config';
import { loopbackConnectors, startTestServer } from '../helpers/http-server';
import { BUSYBOX, collectEvents, crashRun, dockerTestFile, runDirs, type Crash } from '../helpers/red';

const { docker, labels } = dockerTestFile();

let dir: string;
let workRoot: string;
let outdir: string;
beforeEach(async () => {
  ({ dir, workRoot, outdir } = await runDirs('redlab-it-resume-'));
});

/** `n` numbered lines on stdout, 50 ms apart, every 10th also on stderr; then result.txt. */
const countRed = (n: number, extra = '') => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs:
    out: {type: stdout}
    result: {type: File, outputBinding: {glob: result.txt}}
  stdout: out.txt
inputs:
  script: 'i=1; while [ $i -le ${n} ]; do echo "line $i"; [ $((i % 10)) -eq 0 ] && echo "err $i" >&2; i=$((i+1)); sleep 0.05; done; echo done > result.txt'
${extra}container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;
const expectedStdout = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('');
const expectedStderr = (n: number) => Array.from({ length: Math.floor(n / 10) }, (_, i) => `err ${(i + 1) * 10}\n`).join('');

/** Runs the RED in a "bridge" child process and SIGKILLs it as soon as `killWhen` says so (see crashRun). */
const crashRunHere = (red: string, runId: string, killWhen: (c: Crash) => boolean, secrets: string[] = []) =>
  crashRun({ red, dir, outdir, workRoot, runId, labels, secrets }, killWhen);

const logOf = (events: RunEvent[], stream: 'stdout' | 'stderr') =>
  events
    .filter((e): e is Extract<RunEvent, { type: 'log' }> => e.type === 'log' && e.stream === stream)
    .map(e => e.data)
    .join('');

describe('resumeBatch after the bridge was killed', () => {
  it('reattaches to a running container: the log ends whole (no gap, no duplicate), outputs are collected', async () => {
    const n = 60;
    const red = countRed(n);
    const runId = `it-${randomUUID()}`;
    const crash = await crashRunHere(red, runId, c => c.stored.stdout.split('\n').length > 8);
    expect(crash.containerId).toMatch(/^[0-9a-f]{64}$/);
    // Killed mid-way: the container runs on without its bridge.
    expect((await docker.getContainer(crash.containerId!).inspect()).State.Running).toBe(true);
    expect(crash.bytes.stdout).toBeGreaterThan(0);
    expect(crash.bytes.stdout).toBeLessThan(expectedStdout(n).length / 2);

    const ev = collectEvents();
    const engine = new DockerEngine({ connectors: loopbackConnectors(), workRoot });
    const res = await engine.resumeBatch(
      { runId, batch: 0, containerId: crash.containerId, loaded: loadRed(red), outdir, alreadyStored: crash.bytes },
      { onEvent: ev.onEvent }
    );
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(res.exitCode).toBe(0);
    expect(res.containerId).toBe(crash.containerId);
    expect(res.command).toEqual(['sh', '-c', expect.stringContaining('while')]);

    // What was stored before the crash + what came after = the whole output, exactly.
    expect(crash.stored.stdout + logOf(ev.events, 'stdout')).toBe(expectedStdout(n));
    expect(crash.stored.stderr + logOf(ev.events, 'stderr')).toBe(expectedStderr(n));
    expect(logOf(ev.events, 'stdout').length).toBeGreaterThan(0);

    // Outputs as a normal run has them; the stdout capture file rebuilt whole from Docker's log.
    expect(await readFile(path.join(outdir, 'out.txt'), 'utf8')).toBe(expectedStdout(n));
    expect(await readFile(path.join(outdir, 'result.txt'), 'utf8')).toBe('done\n');
    expect(res.outputs.out).toMatchObject({ path: path.join(outdir, 'out.txt'), size: expectedStdout(n).length });
    expect(res.outputs.result).toMatchObject({ path: path.join(outdir, 'result.txt'), size: 5 });
    expect(res.outputs.result!.partial).toBeUndefined();

    expect(ev.events.filter(e => e.type === 'batch-state').map(e => (e.type === 'batch-state' ? e.state : ''))).toEqual(['running', 'collecting', 'succeeded']);
    expect(ev.events).toContainEqual({ type: 'info', batch: 0, message: `the bridge restarted: reattached to container ${crash.containerId!.slice(0, 12)}, still running` });
    // The container is removed, the work folder too (success).
    await expect(docker.getContainer(crash.containerId!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(readdir(path.join(workRoot, runId))).rejects.toThrow();
  }, 60_000);

  it('collects a container that ended while the bridge was down; outputs whose connector needed a secret stay local', async () => {
    const up = await startTestServer({ auth: { username: 'uploader', password: 'up-secret-77', method: 'basic' } });
    try {
      const n = 20;
      const extra = `outputs:
  result:
    class: File
    connector:
      command: red-connector-http
      access: {url: "${up.url}/store/result.txt", method: PUT, auth: {username: uploader, password: up-secret-77}}
`;
      const red = countRed(n, extra);
      const runId = `it-${randomUUID()}`;
      const crash = await crashRunHere(red, runId, c => c.bytes.stdout > 0, ['up-secret-77']);
      await docker.getContainer(crash.containerId!).wait();
      const listed = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).listManagedContainers({ runId });
      expect(listed).toMatchObject([{ containerId: crash.containerId, runId, batch: 0, state: 'exited', exitCode: 0, oomKilled: false }]);

      // After a crash only the masked RED is left (quoted: a bare * starts a YAML alias).
      const masked = red.split('up-secret-77').join(JSON.stringify(MASK));
      const ev = collectEvents();
      const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).resumeBatch(
        { runId, batch: 0, containerId: crash.containerId, loaded: loadRed(masked), outdir, alreadyStored: crash.bytes },
        { onEvent: ev.onEvent }
      );
      expect(res.state).toBe('succeeded');
      expect(res.exitCode).toBe(0);
      expect(crash.stored.stdout + logOf(ev.events, 'stdout')).toBe(expectedStdout(n));
      expect(crash.stored.stderr + logOf(ev.events, 'stderr')).toBe(expectedStderr(n));
      expect(ev.events).toContainEqual({ type: 'info', batch: 0, message: `the bridge restarted: container ${crash.containerId!.slice(0, 12)} ended while it was down (exit code 0)` });
      // No running state: it had ended already.
      expect(ev.events.filter(e => e.type === 'batch-state').map(e => (e.type === 'batch-state' ? e.state : ''))).toEqual(['collecting', 'succeeded']);

      const note = `output result not sent through its connector: the connector settings held secrets, which were lost when the bridge stopped; kept in ${outdir} instead (send it yourself)`;
      expect(res.error).toBe(note);
      expect(ev.events).toContainEqual({ type: 'info', batch: 0, message: note });
      expect(res.outputs.result).toEqual(expect.objectContaining({ path: path.join(outdir, 'result.txt'), size: 5 }));
      expect(res.outputs.result!.connector).toBeUndefined();
      expect(up.requests).toEqual([]);
      expect(await readFile(path.join(outdir, 'out.txt'), 'utf8')).toBe(expectedStdout(n));
      await expect(docker.getContainer(crash.containerId!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      await up.close();
    }
  }, 60_000);

  it('fails a batch whose container vanished, keeping what it had written as partial outputs', async () => {
    const red = countRed(60);
    const runId = `it-${randomUUID()}`;
    const crash = await crashRunHere(red, runId, c => c.bytes.stdout > 0);
    await docker.getContainer(crash.containerId!).remove({ force: true });

    const ev = collectEvents();
    const engine = new DockerEngine({ connectors: loopbackConnectors(), workRoot });
    const res = await engine.resumeBatch(
      { runId, batch: 0, containerId: crash.containerId, loaded: loadRed(red), outdir, alreadyStored: crash.bytes },
      { onEvent: ev.onEvent }
    );
    expect(res.state).toBe('failed');
    expect(res.error).toBe(VANISHED_MESSAGE);
    expect(res.exitCode).toBeUndefined();
    expect(res.outputs.result).toBeNull();
    expect(res.outputs.out).toMatchObject({ path: path.join(outdir, 'out.txt'), partial: true });
    expect(ev.events.filter(e => e.type === 'batch-state').pop()).toEqual({ type: 'batch-state', batch: 0, state: 'failed' });
    expect(ev.events).toContainEqual({ type: 'info', batch: 0, message: `work folder kept: ${engine.batchWorkDir(runId, 0).dir}` });

    // No container id known and none labelled with the run: vanished too, or never created.
    const other = `it-${randomUUID()}`;
    const none = await engine.resumeBatch({ runId: other, batch: 0, loaded: loadRed(red), outdir, alreadyStored: { stdout: 0, stderr: 0 } }, {});
    expect([none.state, none.error]).toEqual(['failed', VANISHED_MESSAGE]);
    const queued = await engine.resumeBatch(
      { runId: other, batch: 0, loaded: loadRed(red), outdir, alreadyStored: { stdout: 0, stderr: 0 }, lastState: 'queued' },
      {}
    );
    expect(queued.error).toBe(NEVER_CREATED_MESSAGE);
  }, 60_000);

  it('fails a batch whose container was created but never started, found by its labels, and removes it', async () => {
    const red = countRed(5);
    const runId = `it-${randomUUID()}`;
    const engine = new DockerEngine({ connectors: loopbackConnectors(), workRoot });
    const wd = engine.batchWorkDir(runId, 0);
    await mkdir(wd.outputs, { recursive: true });
    const created = await docker.createContainer(
      buildCreateOptions({ image: BUSYBOX, cmd: ['true'], inputBinds: [], outputsHostDir: wd.outputs, runId, batch: 0, labels, name: `redlab-it-${runId.slice(3, 15)}` })
    );
    expect(await engine.listManagedContainers({ runId })).toMatchObject([{ containerId: created.id, state: 'created' }]);

    const ev = collectEvents();
    const res = await engine.resumeBatch({ runId, batch: 0, loaded: loadRed(red), outdir, alreadyStored: { stdout: 0, stderr: 0 } }, { onEvent: ev.onEvent });
    expect(ev.events[0]).toEqual({ type: 'container', batch: 0, containerId: created.id, name: `redlab-it-${runId.slice(3, 15)}` });
    expect(res.state).toBe('failed');
    expect(res.error).toBe(NEVER_STARTED_MESSAGE);
    expect(res.containerId).toBe(created.id);
    await expect(docker.getContainer(created.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 30_000);

  it('stops a resumed container when asked to', async () => {
    const red = countRed(200);
    const runId = `it-${randomUUID()}`;
    const crash = await crashRunHere(red, runId, c => c.bytes.stdout > 0);
    const controller = new AbortController();
    const ev = collectEvents();
    const t0 = Date.now();
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot, stopTimeoutSec: 1 }).resumeBatch(
      { runId, batch: 0, containerId: crash.containerId, loaded: loadRed(red), outdir, alreadyStored: crash.bytes },
      {
        signal: controller.signal,
        onEvent: e => {
          ev.onEvent(e);
          if (e.type === 'log' && e.data.includes('line 30\n')) controller.abort();
        }
      }
    );
    expect(res.state).toBe('cancelled');
    expect(res.error).toBe('cancelled: the container was stopped');
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(res.outputs.out).toMatchObject({ partial: true });
    await expect(docker.getContainer(crash.containerId!).inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 60_000);

  it("keeps to the run's wall-clock limit, counted from when the run started", async () => {
    const red = countRed(200);
    const runId = `it-${randomUUID()}`;
    const crash = await crashRunHere(red, runId, c => c.bytes.stdout > 0);
    const t0 = Date.now();
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot, stopTimeoutSec: 1 }).resumeBatch(
      { runId, batch: 0, containerId: crash.containerId, loaded: loadRed(red), outdir, alreadyStored: crash.bytes, wallClockLimitMs: 1000, startedAt: Date.now() },
      {}
    );
    expect(res.state).toBe('failed');
    expect(res.error).toBe('stopped: wall-clock limit of 1 s exceeded; raise it in the bridge settings');
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(res.outputs.out).toMatchObject({ partial: true });
  }, 60_000);
});
