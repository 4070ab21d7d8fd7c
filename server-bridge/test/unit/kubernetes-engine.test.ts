// The kubernetes engine end to end against a recorded conversation with the API server
// (helpers/fake-kube-api.ts: a local HTTP + WebSocket server that answers as Kubernetes 1.31 does),
// through the real @kubernetes/client-node and the engine's own exec and log streams: the requests
// it makes (paths, query, bodies valid against the official OpenAPI schema, credentials), the
// inputs it streams into the pod, and the outputs, logs, exit code and cancel that come out.
// No real cluster runs here (none can be started on this machine).
import { copyFile, mkdir, readFile } from 'fs/promises';
import * as path from 'path';
import { KubeConfig } from '@kubernetes/client-node';
import { fillVariables } from '../../../src/red';
import { cpuQuantity, createKubernetesEngine, KUBERNETES_ENGINE_NAME } from '../../src/engine/kubernetes/kubernetes-engine';
import { jobName } from '../../src/engine/kubernetes/names';
import { startFakeKubeApi, type FakeKubeApi, type PodScenario } from '../helpers/fake-kube-api';
import { k8sOpenapiAvailable, k8sValidator } from '../helpers/kubernetes-openapi';
import { collectEvents, removeTempDirs, request, runDirs } from '../helpers/red';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'kubernetes');
const schema = k8sOpenapiAvailable();
if (!schema.ok && process.env.CI !== 'true') {
  // eslint-disable-next-line no-console
  console.warn(`kubernetes engine tests skipped: ${schema.message}`);
}
const describeSchema = schema.ok || process.env.CI === 'true' ? describe : describe.skip;

const NS = 'redlab';
const fakes: FakeKubeApi[] = [];

function kubeConfigFor(server: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'tester', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'tester', namespace: NS }],
    currentContext: 'fake'
  });
  return kc;
}

/** A run of fixtures/kubernetes/<file> (with its data folder) on the engine, against a fake API server playing `scenario`. */
async function runOn(scenario: PodScenario, file = 'grep.red.yml', over: { abortOn?: (e: { type: string; state?: string }) => boolean; yaml?: (t: string) => string; values?: Record<string, string>; mutate?: (red: Record<string, any>) => void } = {}) {
  const fake = await startFakeKubeApi(scenario);
  fakes.push(fake);
  const { dir, workRoot, outdir } = await runDirs('redlab-k8s-');
  await mkdir(path.join(dir, 'data'));
  await copyFile(path.join(FIXTURES, 'data', 'in.txt'), path.join(dir, 'data', 'in.txt'));
  const yaml = (over.yaml ?? (t => t))(await readFile(path.join(FIXTURES, file), 'utf8'));
  const engine = createKubernetesEngine({ kubeConfig: kubeConfigFor(fake.server, fake.token), workRoot, retryMs: 50, eventPollMs: 50, logFlushMs: 10, defaults: { namespace: NS } });
  const req = request(yaml, dir, { outdir, runId: 'run-k8s-1' });
  if (over.values) req.loaded = { ...req.loaded, red: fillVariables(req.loaded.red, over.values) };
  over.mutate?.(req.loaded.red as unknown as Record<string, any>);
  const ev = collectEvents();
  const ctl = new AbortController();
  const result = await engine.run(req, {
    signal: ctl.signal,
    onEvent: e => {
      ev.onEvent(e);
      if (over.abortOn?.(e as { type: string; state?: string })) setTimeout(() => ctl.abort(), 20);
    }
  });
  return { fake, result, ev, outdir, dir, job: jobName('run-k8s-1', 0) };
}

afterAll(async () => {
  for (const f of fakes) await f.close();
  await removeTempDirs();
});

describeSchema('kubernetes engine against a recorded API server conversation', () => {
  beforeAll(() => {
    if (!schema.ok) throw new Error(`CI=true and ${schema.message}`);
  });

  test('a batch: Job created (valid, strict), inputs streamed in, log followed across a dropped stream, outputs and stdout collected, Job deleted', async () => {
    const { fake, result, ev, outdir, job } = await runOn({
      exitCode: 0,
      logs: ['QUICK', 'quiet', 'quietly', 'QUIT'],
      logDropAfter: 3,
      outputs: { 'report.txt': 'two matches\n', 'sub/extra.txt': 'x' },
      streams: { stdout: 'QUICK\nquiet\nquietly\nQUIT\n' }
    });
    expect(result.error).toBeUndefined();
    expect(result.state).toBe('succeeded');
    expect(result.exitCode).toBe(0);
    expect(result.engine).toMatchObject({ name: KUBERNETES_ENGINE_NAME, isolated: true });
    expect(result.batches[0].job).toEqual({ scheduler: 'kubernetes', id: `${NS}/${job}`, node: 'node-a', state: 'Completed' });

    // Outputs: the captured stdout under cli.stdout's name, the File output, with their hashes.
    expect(await readFile(path.join(outdir, 'matches.txt'), 'utf8')).toBe('QUICK\nquiet\nquietly\nQUIT\n');
    expect(await readFile(path.join(outdir, 'report.txt'), 'utf8')).toBe('two matches\n');
    expect(result.outputs!.matches).toMatchObject({ size: 25 });
    expect(result.outputs!.report).toMatchObject({ size: 12 });
    // The log: every line once and in order, though the first stream ended after 3 lines.
    expect(ev.logs('stdout', 0)).toBe('QUICK\nquiet\nquietly\nQUIT\n');
    expect(ev.events.some(e => e.type === 'info' && /log stream ended while the command runs/.test(e.message))).toBe(true);
    const logRequests = fake.requests.filter(r => r.path.endsWith('/log'));
    // Two streams at least (a third when the stream's end outran the watch's news of the container's end).
    expect(logRequests.length).toBeGreaterThanOrEqual(2);
    expect(logRequests[0].query.get('sinceTime')).toBeNull();
    for (const r of logRequests.slice(1)) expect(r.query.get('sinceTime')).toBe('2026-12-01T10:00:00Z');
    for (const r of logRequests) expect(Object.fromEntries(r.query)).toMatchObject({ container: 'main', follow: 'true', timestamps: 'true' });

    // The Job as the API server got it: valid against the strict schema, strict field validation asked for.
    const create = fake.requests.find(r => r.method === 'POST' && r.path === `/apis/batch/v1/namespaces/${NS}/jobs`)!;
    expect(create.query.get('fieldValidation')).toBe('Strict');
    expect(k8sValidator().check('io.k8s.api.batch.v1.Job', create.body)).toEqual([]);
    expect(create.body).toMatchObject({ metadata: { name: job, namespace: NS, labels: { 'org.redlab.run': 'run-k8s-1', 'org.redlab.batch': '0' } } });

    // The inputs exec: the staged file at its container path, read from the RED's local path.
    const pod = fake.pods()[0];
    const stageExec = fake.requests.find(r => r.websocket && r.query.get('container') === 'stage-inputs')!;
    expect(stageExec.path).toBe(`/api/v1/namespaces/${NS}/pods/${pod}/exec`);
    expect(stageExec.query.getAll('command').slice(0, 2)).toEqual(['sh', '-c']);
    expect(stageExec.query.get('stdin')).toBe('true');
    const inputs = fake.inputsOf(pod)!;
    expect(inputs.get('cc/inputs/text_file/in.txt')).toBe(await readFile(path.join(FIXTURES, 'data', 'in.txt'), 'utf8'));
    expect(inputs.has('cc/outputs')).toBe(true);
    // Outputs collected from the keeper, then the pod let go, then the Job deleted with its pod.
    const keeperExecs = fake.requests.filter(r => r.websocket && r.query.get('container') === 'keep-outputs').map(r => r.query.getAll('command').join(' '));
    expect(keeperExecs).toEqual(['tar -cf - -C /cc outputs', 'tar -cf - -C /redlab/streams stdout', 'touch /redlab/collected']);
    const del = fake.requests.find(r => r.method === 'DELETE')!;
    expect(del.path).toBe(`/apis/batch/v1/namespaces/${NS}/jobs/${job}`);
    expect(del.query.get('propagationPolicy')).toBe('Background');
    expect(fake.objects()).toEqual({ jobs: [], secrets: [] });
    // Every request carried the kubeconfig's credentials (REST, watch, log and exec alike).
    expect(fake.requests.every(r => r.authorization === `Bearer ${fake.token}`)).toBe(true);
    expect(fake.requests.some(r => r.query.get('watch') === 'true')).toBe(true);
    // The conversation's side of the API server is as faithful: every Pod it sent is a valid Pod.
    expect(fake.podsSent.length).toBeGreaterThan(3);
    for (const p of fake.podsSent) expect(k8sValidator().check('io.k8s.api.core.v1.Pod', p)).toEqual([]);
  });

  test('batches fan out as Jobs, at most settings.concurrency at once, each into its own outdir', async () => {
    const { fake, result, outdir } = await runOn({ exitCode: 0, logs: ['done'], outputs: { 'out.txt': 'ok\n' } }, 'batches.red.yml', {
      mutate: red => (red.execution = { engine: 'kubernetes', settings: { concurrency: 2 } })
    });
    expect(result.error).toBeUndefined();
    expect(result.batches.map(b => [b.index, b.state, b.job?.id])).toEqual([0, 1, 2].map(i => [i, 'succeeded', `${NS}/${jobName('run-k8s-1', i)}`]));
    for (const i of [0, 1, 2]) expect(await readFile(`${outdir}_${i}/out.txt`, 'utf8')).toBe('ok\n');
    expect(fake.pods().length).toBe(3);
    expect(fake.maxJobs()).toBeLessThanOrEqual(2);
    // Two batches start at once: their Jobs may reach the server in either order.
    type JobBody = { metadata: { name: string }; spec: { template: { spec: { containers: { command: string[] }[] } } } };
    const commands = Object.fromEntries(
      fake.requests.filter(r => r.method === 'POST' && r.path.endsWith('/jobs')).map(r => [(r.body as JobBody).metadata.name, (r.body as JobBody).spec.template.spec.containers[0].command])
    );
    expect(commands).toEqual({
      [jobName('run-k8s-1', 0)]: ['sh', '-c', 'echo 1 > out.txt'],
      [jobName('run-k8s-1', 1)]: ['sh', '-c', 'echo 2 > out.txt'],
      [jobName('run-k8s-1', 2)]: ['sh', '-c', 'echo $$((1+2)) > out.txt']
    });
    expect(fake.objects().jobs).toEqual([]);
  });

  test('a command that fails: exit code and the log tail in the error, partial outputs, exec over v4.channel.k8s.io', async () => {
    const { fake, result } = await runOn({ exitCode: 3, logs: ['starting', 'error: no such pattern'], outputs: { 'report.txt': 'partial\n' }, streams: { stdout: 'starting\n' }, protocol: 'v4.channel.k8s.io', dropWatches: true });
    expect(result.state).toBe('failed');
    expect(result.exitCode).toBe(3);
    expect(result.error).toMatch(/the command exited with code 3; its stderr ends with:\nstarting\nerror: no such pattern/);
    expect(result.outputs!.report).toMatchObject({ size: 8 });
    expect(fake.objects().jobs).toEqual([]);
    // Each watch ended after one event: the pod was listed and watched again, from the list's resourceVersion.
    const lists = fake.requests.filter(r => r.path.endsWith('/pods') && r.query.get('watch') !== 'true');
    const watches = fake.requests.filter(r => r.path.endsWith('/pods') && r.query.get('watch') === 'true');
    expect(lists.length).toBeGreaterThan(1);
    expect(watches.length).toBeGreaterThan(1);
    for (const w of watches) expect(w.query.get('resourceVersion')).toMatch(/^\d+$/);
  });

  test('cancel: the Job (Background) and the pull Secret are deleted, the batch is cancelled', async () => {
    const withAuth = (t: string) => t.replace('url: registry.example.org/tools/grep:1', 'url: registry.example.org/tools/grep:1\n      auth:\n        username: robot\n        password: "{{registry_password}}"');
    const { fake, result, job } = await runOn({ exitCode: 'never', logs: ['working'], outputs: {} }, 'grep.red.yml', {
      yaml: withAuth,
      values: { registry_password: 'pull-S3cret' },
      abortOn: e => e.type === 'batch-state' && e.state === 'running'
    });
    expect(result.state).toBe('cancelled');
    expect(result.batches[0].state).toBe('cancelled');
    const secretPost = fake.requests.find(r => r.method === 'POST' && r.path === `/api/v1/namespaces/${NS}/secrets`)!;
    expect(k8sValidator().check('io.k8s.api.core.v1.Secret', secretPost.body)).toEqual([]);
    const jobPost = fake.requests.find(r => r.method === 'POST' && r.path.endsWith('/jobs'))!;
    expect(JSON.stringify(jobPost.body)).not.toContain('pull-S3cret');
    expect((jobPost.body as { spec: { template: { spec: { imagePullSecrets: unknown } } } }).spec.template.spec.imagePullSecrets).toEqual([{ name: `${job}-pull` }]);
    const deletes = fake.requests.filter(r => r.method === 'DELETE').map(r => (String(r.query) ? `${r.path}?${r.query}` : r.path));
    expect(deletes).toEqual([`/apis/batch/v1/namespaces/${NS}/jobs/${job}?propagationPolicy=Background`, `/api/v1/namespaces/${NS}/secrets/${job}-pull`]);
    expect(fake.objects()).toEqual({ jobs: [], secrets: [] });
  });

  test('an image the nodes cannot pull fails the batch with what to check', async () => {
    const { result, fake } = await runOn({ exitCode: 0, logs: [], outputs: {}, mainWaiting: { reason: 'ErrImagePull', message: 'pull access denied' } });
    expect(result.state).toBe('failed');
    expect(result.error).toMatch(/main: ErrImagePull: pull access denied \(the nodes cannot pull the image registry.example.org\/tools\/grep:1: check the name/);
    expect(fake.objects().jobs).toEqual([]);
  });

  test('a pod the API server will not show fails the batch with its answer, and the Job is deleted', async () => {
    const { result, fake } = await runOn({ exitCode: 0, logs: [], outputs: {}, forbidPods: true });
    expect(result.state).toBe('failed');
    expect(result.error).toMatch(/^the batch's pod cannot be read from the API server: HTTP 403: pods is forbidden: User "system:serviceaccount:redlab:default" cannot list resource "pods"/);
    expect(fake.objects().jobs).toEqual([]);
  });

  test('a pod Kubernetes refuses to create (admission) fails the batch with the Job\'s event, not at its deadline', async () => {
    const refusal = 'Error creating: pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true';
    const { result, fake } = await runOn({ exitCode: 0, logs: [], outputs: {}, failedCreate: refusal });
    expect(result.state).toBe('failed');
    expect(result.error).toBe(`Kubernetes did not create the Job's pod: ${refusal}`);
    expect(fake.objects().jobs).toEqual([]);
    const ev = fake.requests.find(r => r.path === `/api/v1/namespaces/${NS}/events`)!;
    expect(ev.query.get('fieldSelector')).toBe(`involvedObject.kind=Job,involvedObject.name=${jobName('run-k8s-1', 0)}`);
    expect(fake.eventsSent.length).toBeGreaterThan(0);
    for (const e of fake.eventsSent) expect(k8sValidator().check('io.k8s.api.core.v1.Event', e)).toEqual([]);
  });

  test('a link in /cc/outputs is never followed on this machine', async () => {
    const { result, outdir } = await runOn({ exitCode: 0, logs: ['x'], outputs: { 'report.txt': { symlink: '/etc/passwd' } }, streams: { stdout: 'x\n' } });
    const report = await readFile(path.join(outdir, 'report.txt'), 'utf8').catch(() => '');
    expect(report).not.toMatch(/root:/);
    expect(result.outputs!.report ?? null).toBeNull();
    expect(result.state).toBe('failed');
    expect(result.error).toMatch(/report.txt is a symbolic link to \/etc\/passwd, outside the outputs folder/);
  });

  test('status: the API server version and the capacity (nodes, allocatable GPUs); unreachable says so', async () => {
    const fake = await startFakeKubeApi({ exitCode: 0, logs: [], outputs: {} });
    fakes.push(fake);
    const engine = createKubernetesEngine({ kubeConfig: kubeConfigFor(fake.server, fake.token) });
    expect(await engine.status()).toEqual({
      available: true,
      version: 'v1.31.14',
      note: '2 nodes (1 ready), 2 allocatable GPUs (nvidia.com/gpu), 1 free',
      capacity: { nodes: 2, nodesUp: 1, cpus: 8, gpus: 2, gpusFree: 1 }
    });
    const podList = fake.requests.find(r => r.path === '/api/v1/pods')!;
    expect(podList.query.get('fieldSelector')).toBe('status.phase!=Succeeded,status.phase!=Failed');
    expect(engine.capabilities).toMatchObject({ gpus: true, gpusByMemory: true, schedulesGpus: true, imageBuilds: false, sessions: false, bindMounts: false, reattach: false });
    const down = createKubernetesEngine({ kubeConfig: kubeConfigFor('http://127.0.0.1:9', fake.token) });
    const s = await down.status();
    expect(s.available).toBe(false);
    expect(s.error).toMatch(/the API server http:\/\/127.0.0.1:9 is not reachable: .*ECONNREFUSED/);
    const noContext = await createKubernetesEngine({ kubeConfig: kubeConfigFor(fake.server, fake.token), defaults: { context: 'prod' } }).status();
    expect(noContext.error).toBe('no cluster: execution.settings.context: the kubeconfig has no context "prod"; it has fake; give a kubeconfig (KUBECONFIG, ~/.kube/config, or the engine\'s kubeconfig setting)');
    const none = await createKubernetesEngine({ defaults: { kubeconfig: path.join(FIXTURES, 'no-such-kubeconfig') } }).status();
    expect(none).toEqual({ available: false, error: expect.stringMatching(/^no cluster: (Error: )?ENOENT.*no-such-kubeconfig.*; give a kubeconfig/) });
  });

  test('precheck refuses bad settings before the run is queued', async () => {
    const engine = createKubernetesEngine({ kubeConfig: kubeConfigFor('http://127.0.0.1:9', 'x') });
    const red = request(await readFile(path.join(FIXTURES, 'claim.red.yml'), 'utf8'), FIXTURES).loaded.red as unknown as { execution: { settings: Record<string, unknown> } };
    expect(await engine.precheck(red as never)).toBeUndefined();
    red.execution.settings.ttlSecondsAfterFinished = -5;
    expect(await engine.precheck(red as never)).toEqual({ path: 'execution.settings.ttlSecondsAfterFinished', message: 'must be a whole number from 0 to 2147483647, not -5', fix: 'give the seconds a finished Job is kept, e.g. 3600' });
  });

  test('bad settings (past the RED validator, e.g. a RED built in code) fail the run before anything is sent, naming the field', async () => {
    const { fake, result } = await runOn({ exitCode: 0, logs: [], outputs: {} }, 'claim.red.yml', { mutate: red => (red.execution.settings.namespace = 'Lab_Data') });
    expect(result.state).toBe('failed');
    expect(result.error).toMatch(/execution.settings.namespace/);
    expect(fake.requests).toEqual([]);
  });
});

test('CPU quantities as nodes report them', () => {
  expect([cpuQuantity('8'), cpuQuantity('7500m'), cpuQuantity('1.5'), cpuQuantity('2Gi'), cpuQuantity(undefined)]).toEqual([8, 7.5, 1.5, 0, 0]);
});

test('the schema cache is there under CI', () => {
  // Under CI the manifest and engine tests must not be skipped: the cache comes from .ci/k8s-openapi.sh.
  if (process.env.CI === 'true') expect(schema).toEqual({ ok: true, message: '' });
  else expect(typeof schema.ok).toBe('boolean');
});
