// The kubernetes engine's manifests (engine/kubernetes/job-manifest.ts) against the official
// Kubernetes OpenAPI schema (v1.31, .ci/k8s-openapi.sh), made strict about unknown fields: every Job
// and Secret built for a set of REDs (plain, GPUs by count and by memory, batches, secrets, an
// inputs claim) must be valid, and a wrong field or type must be caught (the break tests).
// No cluster runs here: this is what the API server's schema says of the objects, not a run.
import { readFileSync } from 'fs';
import * as path from 'path';
import { fillVariables, loadRed, toBatches, type Red } from '../../../src/red';
import { defaultConnectors } from '../../src/connectors/registry';
import { planBatch } from '../../src/engine/batch';
import { buildBatchObjects, checkInputPlacement, deadlineSeconds, DEFAULT_DEADLINE_SECONDS, experimentResources, type BatchObjects } from '../../src/engine/kubernetes/job-manifest';
import { isDns1123Label, isDns1123Subdomain, isLabelValue, jobName, toLabelValue } from '../../src/engine/kubernetes/names';
import { BUSYBOX, escapeArgument, wrapCommand } from '../../src/engine/kubernetes/pod-commands';
import { checkKubernetesSettings, redKubernetesSettings, resolveKubernetesSettings, type KubernetesSettings } from '../../src/engine/kubernetes/settings';
import { k8sOpenapiAvailable, k8sValidator } from '../helpers/kubernetes-openapi';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'kubernetes');
const schema = k8sOpenapiAvailable();
const RUN_ID = 'f3b1c9d2-7e4a-4c1b-9a55-0d6f2b8e1a77';

if (!schema.ok && process.env.CI !== 'true') {
  // eslint-disable-next-line no-console
  console.warn(`kubernetes manifest tests skipped: ${schema.message}`);
}
const describeSchema = schema.ok || process.env.CI === 'true' ? describe : describe.skip;

function load(file: string, values: Record<string, string> = {}): Red {
  const loaded = loadRed(readFileSync(path.join(FIXTURES, file), 'utf8'), { source: file });
  return Object.keys(values).length ? fillVariables(loaded.red, values) : loaded.red;
}

/** Every batch of a RED as the engine builds it: planned as batch.ts plans it, then the objects. */
function objectsOf(file: string, settings: KubernetesSettings = {}, values: Record<string, string> = {}, wallClockLimitMs?: number): BatchObjects[] {
  const red = load(file, values);
  const loaded = { red, format: 'yaml' as const, floatPaths: new Set<string>(), lineOf: () => undefined, warnings: [] };
  const batches = toBatches(red);
  const resolved = resolveKubernetesSettings(redKubernetesSettings(red), settings);
  return batches.map((batch, index) => {
    const plan = planBatch({ loaded, outdir: '/tmp/out', sendOutputs: false }, batch, index, batches.length, 'batches' in red, RUN_ID, defaultConnectors());
    return buildBatchObjects({ red, plan, runId: RUN_ID, settings: resolved, wallClockLimitMs, labels: { 'org.redlab.bridge-run': RUN_ID, 'org.redlab.notebook': 'notebooks/a b.ipynb' } }, plan.items.map(i => i.mountPath));
  });
}

const CASES: [string, string, KubernetesSettings, Record<string, string>][] = [
  ['plain (stdout captured, local input)', 'grep.red.yml', {}, {}],
  ['GPUs by count', 'gpus.red.yml', { namespace: 'gpu-lab', timeLimit: '02:00:00' }, {}],
  ['GPUs by memory', 'vram.red.yml', {}, {}],
  ['batches', 'batches.red.yml', { concurrency: 2 }, {}],
  ['secrets (image auth, connector auth)', 'secrets.red.yml', { imagePullSecrets: ['site-cred'] }, { data_password: 'conn-S3cret!', registry_password: 'reg-P4ss"word' }],
  ['inputs claim and execution.settings', 'claim.red.yml', { helperImage: 'registry.example.org/redlab/busybox:1.36.1', readOnlyRootFilesystem: true }, {}]
];

describeSchema('kubernetes manifests against the official OpenAPI schema', () => {
  beforeAll(() => {
    if (!schema.ok) throw new Error(`CI=true and ${schema.message}`);
  });

  test('the schema is the official one, with the definitions the engine writes', () => {
    const v = k8sValidator();
    for (const d of ['io.k8s.api.batch.v1.Job', 'io.k8s.api.core.v1.Secret', 'io.k8s.api.core.v1.PodSpec', 'io.k8s.api.core.v1.NodeAffinity']) expect(v.definitions).toContain(d);
  });

  test.each(CASES)('%s: every Job and Secret is valid', (_what, file, settings, values) => {
    const v = k8sValidator();
    const all = objectsOf(file, settings, values);
    expect(all.length).toBeGreaterThan(0);
    for (const { job, pullSecret } of all) {
      expect(v.check('io.k8s.api.batch.v1.Job', job)).toEqual([]);
      if (pullSecret) expect(v.check('io.k8s.api.core.v1.Secret', pullSecret)).toEqual([]);
      // What the schema does not say: names and label values as the API server checks them.
      expect(isDns1123Label(job.metadata!.name!)).toBe(true);
      if (pullSecret) expect(isDns1123Subdomain(pullSecret.metadata!.name!)).toBe(true);
      for (const labels of [job.metadata!.labels!, job.spec!.template.metadata!.labels!]) for (const value of Object.values(labels)) expect(isLabelValue(value)).toBe(true);
      const pod = job.spec!.template.spec!;
      for (const c of [...pod.initContainers!, ...pod.containers]) expect(isDns1123Label(c.name)).toBe(true);
    }
  });

  test('the Job: no retries, never restarted, a deadline, removed after a while, hardened, labelled', () => {
    const [{ job }] = objectsOf('grep.red.yml');
    const spec = job.spec!;
    expect(spec.backoffLimit).toBe(0);
    expect(spec.activeDeadlineSeconds).toBe(DEFAULT_DEADLINE_SECONDS);
    expect(spec.ttlSecondsAfterFinished).toBe(3600);
    const pod = spec.template.spec!;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext!.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    for (const c of [...pod.initContainers!, ...pod.containers]) {
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } });
      expect(c.resources!.limits!.memory).toBeDefined();
    }
    expect(job.metadata!.labels).toMatchObject({ 'org.redlab.run': RUN_ID, 'org.redlab.batch': '0', 'org.redlab.managed': 'true', 'org.redlab.bridge-run': RUN_ID });
    // A value no label can hold goes into the annotations.
    expect(job.metadata!.annotations!['org.redlab.notebook']).toBe('notebooks/a b.ipynb');
    const main = pod.containers.find(c => c.name === 'main')!;
    expect(main.resources).toEqual({ requests: { memory: '256Mi' }, limits: { memory: '256Mi' } });
    expect(main.workingDir).toBe('/cc/outputs');
    expect(main.volumeMounts!.find(m => m.mountPath === '/cc/inputs')!.readOnly).toBe(true);
    expect(pod.volumes!.map(v => [v.name, Object.keys(v).filter(k => k !== 'name')[0]])).toEqual([['inputs', 'emptyDir'], ['outputs', 'emptyDir'], ['redlab', 'emptyDir']]);
  });

  test('the command reaches the program as written: stdout kept through the wrapper, every $ escaped', () => {
    const [{ job }] = objectsOf('grep.red.yml');
    const main = job.spec!.template.spec!.containers.find(c => c.name === 'main')!;
    const expected = wrapCommand(['grep', 'QU$(HOME)$$', '/cc/inputs/text_file/in.txt'], { stdout: true, stderr: false }).map(escapeArgument);
    expect(main.command).toEqual(expected);
    expect(main.command![0]).toBe(BUSYBOX);
    expect(main.command).toContain('QU$$(HOME)$$$$');
    expect(main.args).toBeUndefined();
    // Without kept streams the argv is the command itself: the image needs no shell.
    const [{ job: gpuJob }] = objectsOf('gpus.red.yml');
    expect(gpuJob.spec!.template.spec!.containers.find(c => c.name === 'main')!.command).toEqual(['python3', 'train.py', '--epochs', '3']);
  });

  test('GPUs by count: nvidia.com/gpu limits, memory request = limit', () => {
    const [{ job }] = objectsOf('gpus.red.yml', { namespace: 'gpu-lab', timeLimit: '02:00:00' });
    const main = job.spec!.template.spec!.containers.find(c => c.name === 'main')!;
    expect(main.resources).toEqual({ requests: { memory: '8192Mi', 'nvidia.com/gpu': '2' }, limits: { memory: '8192Mi', 'nvidia.com/gpu': '2' } });
    expect(job.metadata!.namespace).toBe('gpu-lab');
    expect(job.spec!.activeDeadlineSeconds).toBe(7200);
    expect(job.spec!.template.spec!.affinity).toBeUndefined();
  });

  test('GPUs by memory: one GPU per device, required node affinity on nvidia.com/gpu.memory > largest vramMin - 1', () => {
    const [{ job }] = objectsOf('vram.red.yml');
    const pod = job.spec!.template.spec!;
    expect(pod.containers.find(c => c.name === 'main')!.resources!.limits!['nvidia.com/gpu']).toBe('2');
    expect(pod.affinity).toEqual({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'nvidia.com/gpu.memory', operator: 'Gt', values: ['23999'] }] }] } }
    });
  });

  test('batches: one Job per batch, names and labels apart', () => {
    const all = objectsOf('batches.red.yml');
    expect(all.map(o => o.job.metadata!.name)).toEqual([0, 1, 2].map(i => jobName(RUN_ID, i)));
    expect(all.map(o => o.job.metadata!.labels!['org.redlab.batch'])).toEqual(['0', '1', '2']);
    expect(all[2].job.spec!.template.spec!.containers[0].command).toEqual(['sh', '-c', 'echo $$((1+2)) > out.txt']);
  });

  test('secrets: the image credentials in a dockerconfigjson Secret the pod names; no secret value anywhere in the Job', () => {
    const [{ job, pullSecret }] = objectsOf('secrets.red.yml', { imagePullSecrets: ['site-cred'] }, { data_password: 'conn-S3cret!', registry_password: 'reg-P4ss"word' });
    expect(pullSecret!.type).toBe('kubernetes.io/dockerconfigjson');
    const config = JSON.parse(Buffer.from(pullSecret!.data!['.dockerconfigjson'], 'base64').toString('utf8'));
    expect(config.auths['registry.example.org:5000']).toEqual({ username: 'robot', password: 'reg-P4ss"word', auth: Buffer.from('robot:reg-P4ss"word').toString('base64') });
    expect(job.spec!.template.spec!.imagePullSecrets).toEqual([{ name: 'site-cred' }, { name: pullSecret!.metadata!.name }]);
    const text = JSON.stringify(job);
    for (const secret of ['conn-S3cret!', 'reg-P4ss"word', 'reg-P4ss\\"word', Buffer.from('robot:reg-P4ss"word').toString('base64')]) expect(text).not.toContain(secret);
    expect(JSON.stringify(pullSecret)).not.toContain('reg-P4ss');
  });

  test('an inputs claim: the PVC, one folder of it per batch, emptied by the keeper; the RED\'s execution.settings used', () => {
    const [{ job }] = objectsOf('claim.red.yml', { helperImage: 'registry.example.org/redlab/busybox:1.36.1', readOnlyRootFilesystem: true });
    const pod = job.spec!.template.spec!;
    expect(pod.volumes![0]).toEqual({ name: 'inputs', persistentVolumeClaim: { claimName: 'shared-inputs' } });
    const name = job.metadata!.name!;
    for (const c of ['stage-inputs', 'main', 'keep-outputs']) {
      const all = [...pod.initContainers!, ...pod.containers];
      expect(all.find(x => x.name === c)!.volumeMounts!.find(m => m.name === 'inputs')).toMatchObject({ mountPath: '/cc/inputs', subPath: `redlab/${name}` });
    }
    expect(pod.containers.find(c => c.name === 'keep-outputs')!.command![2]).toContain('rm -rf /cc/inputs/*');
    expect(job.metadata!.namespace).toBe('lab-data');
    expect(pod.serviceAccountName).toBe('redlab-runner');
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.securityContext).toMatchObject({ runAsUser: 1000, runAsNonRoot: true });
    expect(job.spec!.activeDeadlineSeconds).toBe(26 * 3600);
    expect(job.spec!.ttlSecondsAfterFinished).toBe(600);
    expect(pod.containers.find(c => c.name === 'main')!.securityContext!.readOnlyRootFilesystem).toBe(true);
    expect(pod.initContainers![0].image).toBe('registry.example.org/redlab/busybox:1.36.1');
  });

  describe('break tests: the strict schema catches what the API server would refuse', () => {
    const base = () => JSON.parse(JSON.stringify(objectsOf('grep.red.yml')[0].job));
    const problems = (job: unknown) => k8sValidator().check('io.k8s.api.batch.v1.Job', job);

    test('a misspelled field', () => {
      const job = base();
      job.spec.template.spec.restartPolicyy = job.spec.template.spec.restartPolicy;
      delete job.spec.template.spec.restartPolicy;
      expect(problems(job)).toEqual(['/spec/template/spec: must NOT have additional properties (restartPolicyy)']);
    });
    test('a misspelled field deep in a container', () => {
      const job = base();
      job.spec.template.spec.containers[0].securityContext.capabilities.dropped = ['ALL'];
      expect(problems(job).join('\n')).toContain('(dropped)');
    });
    test('a wrong type', () => {
      const job = base();
      job.spec.backoffLimit = '0';
      expect(problems(job)).toContain('/spec/backoffLimit: must be integer');
    });
    test('a number out of int32', () => {
      const job = base();
      job.spec.activeDeadlineSeconds = 2 ** 40;
      expect(problems(job)).toEqual([]); // int64 in the schema
      job.spec.backoffLimit = 2 ** 33;
      expect(problems(job).join('\n')).toContain('/spec/backoffLimit: must match format "int32"');
    });
    test('a missing required field', () => {
      const job = base();
      delete job.spec.template.spec.containers[0].name;
      expect(problems(job)).toContain("/spec/template/spec/containers/0: must have required property 'name'");
    });
    test('Secret data that is not base64', () => {
      const [{ pullSecret }] = objectsOf('secrets.red.yml', {}, { data_password: 'xyz-1', registry_password: 'abc-2' });
      const bad = { ...pullSecret, data: { '.dockerconfigjson': '{"auths":{}}' } };
      expect(k8sValidator().check('io.k8s.api.core.v1.Secret', bad).join('\n')).toContain('must match format "byte"');
    });
  });
});

describe('kubernetes settings', () => {
  test('each bad field is named with its fix', () => {
    const issues = checkKubernetesSettings({ namespace: 'Lab_Data', timeLimit: '90 min', runAsUser: -1, imagePullSecrets: ['ok', 'Not OK'], nameSpace: 'x', helperImage: 'busybox' });
    const byPath = Object.fromEntries(issues.map(i => [i.path, i]));
    expect(Object.keys(byPath).sort()).toEqual(
      ['execution.settings.helperImage', 'execution.settings.imagePullSecrets.1', 'execution.settings.nameSpace', 'execution.settings.namespace', 'execution.settings.runAsUser', 'execution.settings.timeLimit'].sort()
    );
    expect(byPath['execution.settings.namespace'].fix).toMatch(/lower-case letters, digits and "-"/);
    expect(byPath['execution.settings.timeLimit']).toMatchObject({ message: 'time limit "90 min" is not "HH:MM:SS" or "D-HH:MM:SS"', fix: expect.stringMatching(/HH:MM:SS/) });
    expect(byPath['execution.settings.nameSpace'].fix).toBe('did you mean namespace?');
    expect(byPath['execution.settings.helperImage'].message).toMatch(/setting of the bridge's kubernetes engine, not of a RED/);
    expect(checkKubernetesSettings({ namespace: 'lab', timeLimit: '1-00:00:00', runAsUser: 1000, concurrency: 4 })).toEqual([]);
  });

  test('the engine\'s defaults take the engine-only settings; the RED\'s win over them', () => {
    expect(resolveKubernetesSettings({ namespace: 'mine' }, { namespace: 'site', helperImage: 'site/busybox:1' })).toEqual({ namespace: 'mine', helperImage: 'site/busybox:1' });
    expect(() => resolveKubernetesSettings({ timeLimit: '25:61:00' })).toThrow('execution.settings.timeLimit: time limit "25:61:00": minutes and seconds are two digits each, 00 to 59; write it as "HH:MM:SS"');
  });

  test('deadline: the shorter of timeLimit and the wall-clock limit', () => {
    expect(deadlineSeconds({ timeLimit: '01:00:00' }, 90_500)).toBe(91);
    expect(deadlineSeconds({ timeLimit: '00:01:00' }, 3_600_000)).toBe(60);
    expect(deadlineSeconds({})).toBe(DEFAULT_DEADLINE_SECONDS);
  });
});

describe('kubernetes names and placement', () => {
  test('job names are DNS-1123 labels whatever the run id', () => {
    expect(jobName('run-1', 0)).toBe('redlab-run-1-0');
    for (const id of ['Run_ID.With:Odd/Chars', 'x'.repeat(200), '---', 'ÄÖÜ']) {
      const n = jobName(id, 12);
      expect(isDns1123Label(n)).toBe(true);
      expect(n.endsWith('-12')).toBe(true);
    }
    expect(jobName('A', 0)).not.toBe(jobName('a', 0));
  });
  test('label values', () => {
    expect(toLabelValue(RUN_ID)).toBe(RUN_ID);
    for (const id of ['a b', 'x'.repeat(100), '_x_', '']) expect(isLabelValue(toLabelValue(id))).toBe(true);
  });
  test('inputs outside /cc are refused with the fix', () => {
    expect(() => checkInputPlacement(['/cc/inputs/a/b', 'sub/c'])).not.toThrow();
    expect(() => checkInputPlacement(['/data/x'])).toThrow(/only below \/cc\/inputs or \/cc\/outputs: remove its dirname/);
  });
  test('cpus, when a RED gives them, are requested and limited', () => {
    const red = load('gpus.red.yml');
    (red.container.settings as unknown as { cpus: number }).cpus = 1.5;
    expect(experimentResources(red).limits).toMatchObject({ cpu: '1500m', memory: '8192Mi' });
  });
});
