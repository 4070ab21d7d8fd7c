// The kubernetes engine's pod, played by real containers on the local Docker engine: no cluster can
// be started here, but what runs inside the pod can. Each container of a Job the builder makes
// (job-manifest.ts) runs as the kubelet would run it: its image, its command after Kubernetes'
// `$$` → `$`, its user, read-only root, no capabilities, no privilege escalation, and its volume
// mounts as host folders (emptyDirs are host folders of mode 0777 on a node; a subPath a subfolder).
// The bridge's execs are `docker exec` with the same commands. This checks the helper scripts with
// real busybox, the stream wrapper running the image's own grep (not busybox's applet), and that the
// engine's unpackers read what busybox tar writes. The kubelet, the scheduler and the API server are
// not here: see kubernetes-engine.test.ts for the conversation with an API server.
import { spawn } from 'child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'fs/promises';
import * as path from 'path';
import { createReadStream, createWriteStream, statSync } from 'fs';
import type { V1Container, V1Job } from '@kubernetes/client-node';
import { toBatches } from '../../../src/red';
import { defaultConnectors } from '../../src/connectors/registry';
import { unpackArchive, unpackLimitsFromEnv } from '../../src/connectors/unpack-archive';
import { planBatch } from '../../src/engine/batch';
import { extractOutputs, inputsArchive } from '../../src/engine/container-files';
import { stageInputs } from '../../src/engine/staging';
import { buildBatchObjects } from '../../src/engine/kubernetes/job-manifest';
import type { KubernetesSettings } from '../../src/engine/kubernetes/settings';
import { collectOutputsCommand, collectStreamsCommand, releaseCommand, stageCommand } from '../../src/engine/kubernetes/pod-commands';
import { BUSYBOX, PYTHON, removeTempDirs, request, tempDir } from '../helpers/red';

jest.setTimeout(120_000);

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'kubernetes');
const LABEL = `org.redlab.test=kubernetes-pod-${process.pid}`;

function docker(args: string[], stdin?: NodeJS.ReadableStream): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout: Buffer.concat(out), stderr }));
    if (stdin && child.stdin) stdin.pipe(child.stdin);
  });
}

/** What the kubelet passes on: `$$` becomes `$` (no env is declared, so no `$(VAR)` expands). */
const kubeletArgs = (argv: string[]) => argv.map(a => a.split('$$').join('$'));

/** `docker run` flags for a container of the pod: user, hardening, mounts (volume → host folder, subPath → subfolder). */
async function runFlags(job: V1Job, c: V1Container, volumes: Record<string, string>): Promise<string[]> {
  const pod = job.spec!.template.spec!;
  const sc = c.securityContext ?? {};
  const user = sc.runAsUser ?? pod.securityContext?.runAsUser;
  const flags = ['--label', LABEL, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--network', 'none'];
  if (user !== undefined) flags.push('--user', String(user));
  if (sc.readOnlyRootFilesystem) flags.push('--read-only');
  if (c.workingDir) flags.push('-w', c.workingDir);
  for (const m of c.volumeMounts ?? []) {
    const host = m.subPath ? path.join(volumes[m.name], m.subPath) : volumes[m.name];
    await mkdir(host, { recursive: true, mode: 0o777 });
    await chmod(host, 0o777);
    flags.push('-v', `${host}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
  }
  const [entry, ...args] = kubeletArgs(c.command!);
  return [...flags, '--entrypoint', entry, c.image!, ...args];
}

afterAll(async () => {
  const ids = (await docker(['ps', '-aq', '--filter', `label=${LABEL}`])).stdout.toString().split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', ...ids]);
  await removeTempDirs();
});

/** A batch's Job for the grep fixture on `image`, and its staged inputs archive. */
async function prepare(command?: string[], streams?: { stdout?: string; stderr?: string }, settings: KubernetesSettings = {}) {
  const dir = await tempDir('redlab-k8s-pod-');
  await mkdir(path.join(dir, 'data'));
  await writeFile(path.join(dir, 'data', 'in.txt'), await readFile(path.join(FIXTURES, 'data', 'in.txt')));
  const yaml = (await readFile(path.join(FIXTURES, 'grep.red.yml'), 'utf8')).replace('QU$(HOME)$$', 'QU').replace('registry.example.org/tools/grep:1', PYTHON);
  const req = request(yaml, dir);
  const red = req.loaded.red;
  const [batch] = toBatches(red);
  const plan = planBatch(req, batch, 0, 1, false, 'pod-test', defaultConnectors());
  const inputsDir = path.join(dir, 'staged');
  await mkdir(inputsDir);
  const staged = await stageInputs({ items: plan.items, inputsDir, registry: defaultConnectors(), ctx: { baseDir: dir, allowedRoots: [dir] } });
  const { job } = buildBatchObjects(
    { red, plan: { ...plan, command: command ?? plan.command, streams: streams ?? plan.streams }, runId: 'pod-test', settings: { runAsUser: 1000, helperImage: BUSYBOX, readOnlyRootFilesystem: true, ...settings } },
    staged.binds.map(b => b.containerPath)
  );
  const archive = path.join(dir, 'inputs.tar');
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(archive);
    out.on('finish', resolve);
    out.on('error', reject);
    (inputsArchive(staged.binds) as unknown as NodeJS.ReadableStream).pipe(out);
  });
  const volumes: Record<string, string> = {};
  for (const v of ['inputs', 'outputs', 'redlab', ...(settings.inputsClaim ? [settings.inputsClaim] : [])]) {
    volumes[v] = path.join(dir, 'volumes', v);
    await mkdir(volumes[v], { recursive: true });
    await chmod(volumes[v], 0o777);
  }
  const pod = job.spec!.template.spec!;
  const container = (name: string) => [...pod.initContainers!, ...pod.containers].find(c => c.name === name)!;
  return { dir, job, archive, volumes, container };
}

describe('the kubernetes pod on real containers', () => {
  test('inputs in by exec, the command with its stdout kept, outputs and streams out by exec, then the pod released', async () => {
    const { dir, job, archive, volumes, container } = await prepare();

    // 1. stage-inputs waits; the bridge's exec unpacks the inputs and lets it end.
    const stage = await docker(['run', '-d', ...(await runFlags(job, container('stage-inputs'), volumes))]);
    expect(stage.stderr).toBe('');
    const stageId = stage.stdout.toString().trim();
    const size = statSync(archive).size;
    const up = await docker(['exec', '-i', stageId, ...stageCommand(size)], createReadStream(archive));
    expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await docker(['wait', stageId])).stdout.toString().trim()).toBe('0');
    expect(await readFile(path.join(volumes.inputs, 'text_file', 'in.txt'), 'utf8')).toBe(await readFile(path.join(FIXTURES, 'data', 'in.txt'), 'utf8'));

    // 2. main: GNU grep of the image (through the wrapper and the copied busybox), stdout in the log and in the stream file.
    const main = await docker(['run', ...(await runFlags(job, container('main'), volumes))]);
    expect({ code: main.code, stdout: main.stdout.toString(), stderr: main.stderr }).toEqual({ code: 0, stdout: 'QUICK\n', stderr: '' });
    await writeFile(path.join(volumes.outputs, 'report.txt'), 'one match\n');

    // 3. keep-outputs: the bridge's execs read /cc/outputs and the streams, then release the pod.
    const keeper = await docker(['run', '-d', ...(await runFlags(job, container('keep-outputs'), volumes))]);
    const keeperId = keeper.stdout.toString().trim();
    const outTar = path.join(dir, 'outputs.tar');
    const out = await docker(['exec', keeperId, ...collectOutputsCommand()]);
    expect(out.code).toBe(0);
    await writeFile(outTar, out.stdout);
    await mkdir(path.join(dir, 'collected'));
    const fetched = await extractOutputs(createReadStream(outTar), path.join(dir, 'collected'));
    expect(fetched.skipped).toEqual([]);
    expect(await readFile(path.join(dir, 'collected', 'report.txt'), 'utf8')).toBe('one match\n');
    const streams = await docker(['exec', keeperId, ...collectStreamsCommand({ stdout: true })]);
    expect(streams.code).toBe(0);
    await writeFile(path.join(dir, 'streams.tar'), streams.stdout);
    await unpackArchive(path.join(dir, 'streams.tar'), 'tar', path.join(dir, 'streams'), unpackLimitsFromEnv());
    expect(await readFile(path.join(dir, 'streams', 'stdout'), 'utf8')).toBe('QUICK\n');
    expect((await docker(['exec', keeperId, ...releaseCommand()])).code).toBe(0);
    expect((await docker(['wait', keeperId])).stdout.toString().trim()).toBe('0');
  });

  test('an inputs claim: the batch\'s folder on it gets the inputs, and the keeper empties it once the outputs are out', async () => {
    const { job, archive, volumes, container } = await prepare(undefined, undefined, { inputsClaim: 'shared-inputs' });
    // The claim is one volume for many batches: the pod's inputs are in its folder redlab/<job>.
    volumes.inputs = volumes['shared-inputs'];
    const folder = path.join(volumes.inputs, 'redlab', job.metadata!.name!);
    const stageId = (await docker(['run', '-d', ...(await runFlags(job, container('stage-inputs'), volumes))])).stdout.toString().trim();
    expect((await docker(['exec', '-i', stageId, ...stageCommand(statSync(archive).size)], createReadStream(archive))).code).toBe(0);
    expect((await docker(['wait', stageId])).stdout.toString().trim()).toBe('0');
    expect(await readFile(path.join(folder, 'text_file', 'in.txt'), 'utf8')).toBe(await readFile(path.join(FIXTURES, 'data', 'in.txt'), 'utf8'));
    const keeperId = (await docker(['run', '-d', ...(await runFlags(job, container('keep-outputs'), volumes))])).stdout.toString().trim();
    expect((await docker(['exec', keeperId, ...releaseCommand()])).code).toBe(0);
    expect((await docker(['wait', keeperId])).stdout.toString().trim()).toBe('0');
    expect(await readdir(folder)).toEqual([]);
  });

  test("the wrapper runs the image's program, not busybox's applet of the same name, and keeps the exit code and both streams", async () => {
    const copyTools = async (volumes: Record<string, string>) => {
      // What stage-inputs does first: the busybox the wrapper runs in.
      const tools = await docker(['run', '--rm', '--label', LABEL, '--user', '1000', '-v', `${volumes.redlab}:/redlab`, '--entrypoint', 'sh', BUSYBOX, '-c', 'mkdir -p /redlab/bin /redlab/streams && cp /bin/busybox /redlab/bin/busybox']);
      expect(tools.code).toBe(0);
    };
    const a = await prepare(['grep', '--version']);
    await copyTools(a.volumes);
    const version = await docker(['run', '--rm', ...(await runFlags(a.job, a.container('main'), a.volumes))]);
    expect(version.stdout.toString()).toMatch(/^grep \(GNU grep\)/);

    const b = await prepare(['sh', '-c', 'echo "out $HOME \\$(x) $$$$"; echo err >&2; exit 3'], { stdout: 'o.txt', stderr: 'e.txt' });
    await copyTools(b.volumes);
    const failed = await docker(['run', '--rm', ...(await runFlags(b.job, b.container('main'), b.volumes))]);
    expect(failed.code).toBe(3);
    expect(failed.stdout.toString()).toMatch(/^out \/ \$\(x\) \d+\n$/);
    expect(failed.stderr).toBe('err\n');
    expect(await readFile(path.join(b.volumes.redlab, 'streams', 'stdout'), 'utf8')).toBe(failed.stdout.toString());
    expect(await readFile(path.join(b.volumes.redlab, 'streams', 'stderr'), 'utf8')).toBe('err\n');
  });
});
