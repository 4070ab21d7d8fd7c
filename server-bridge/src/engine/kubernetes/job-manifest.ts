// A batch as Kubernetes objects, built without any I/O: the batch/v1 Job (with its pod: helpers
// and the experiment, see pod-commands.ts) and, when the image needs registry credentials, the
// Secret the pod pulls with. Secrets never go into the Job: the only credential the cluster needs
// is the image's (container.settings.image.auth), and it is a kubernetes.io/dockerconfigjson Secret
// the pod names in imagePullSecrets. Connector credentials stay in the bridge, which runs the
// connectors (inputs are staged and outputs sent from here, as on every engine); buildBatchObjects
// checks that no secret value of the RED is anywhere in the Job.
import type { V1Container, V1Job, V1NodeAffinity, V1ResourceRequirements, V1Secret, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { CONTAINER_INPUTS_DIR, CONTAINER_OUTPUTS_DIR, isProtectedKey, parseTimeLimit, SECRET_ACCESS_KEYS, type Red } from '../../../../src/red';
import { registryOf } from '../image';
import { jobName, toLabelValue, isLabelValue } from './names';
import {
  CONTROL_DIR,
  escapeArgument,
  KEEPER_CONTAINER,
  keeperScript,
  MAIN_CONTAINER,
  STAGE_CONTAINER,
  stageScript,
  STREAMS_DIR,
  TOOLS_DIR,
  wrapCommand
} from './pod-commands';
import { DEFAULT_HELPER_IMAGE, DEFAULT_TTL_SECONDS, type KubernetesSettings } from './settings';

export const LABEL_MANAGED = 'org.redlab.managed';
export const LABEL_RUN = 'org.redlab.run';
export const LABEL_BATCH = 'org.redlab.batch';
/** The GPU memory label of NVIDIA GPU feature discovery (MiB, per GPU). */
export const GPU_MEMORY_LABEL = 'nvidia.com/gpu.memory';
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** When neither settings.timeLimit nor a wall-clock limit bounds a batch: a day. */
export const DEFAULT_DEADLINE_SECONDS = 24 * 3600;
/** What a helper may use: they copy files and wait. */
const HELPER_RESOURCES: V1ResourceRequirements = { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } };
/** The user helpers run as when the pod must not run as root and no user is set: the image's own (busybox: root) is refused then. */
const HELPER_NON_ROOT_UID = 65534;

/** What of a batch's plan (engine/batch.ts's BatchPlan) the manifest needs. */
export interface BatchManifestPlan {
  index: number;
  /** The command line, as the container sees it (/cc/inputs/...). */
  command: string[];
  /** cli.stdout / cli.stderr file names, when the streams are kept as files. */
  streams: { stdout?: string; stderr?: string };
}

export interface BatchManifestInput {
  /** The RED after its {{variables}} were filled. */
  red: Red;
  plan: BatchManifestPlan;
  runId: string;
  /** Resolved settings (settings.ts). */
  settings: KubernetesSettings;
  /** The run's wall-clock limit (ms): the Job's deadline when shorter than settings.timeLimit. */
  wallClockLimitMs?: number;
  /** More labels for the Job and its pod (the bridge's); any that Kubernetes would refuse become annotations. */
  labels?: Record<string, string>;
}

export interface BatchObjects {
  job: V1Job;
  /** The image pull Secret, when container.settings.image.auth has credentials. */
  pullSecret?: V1Secret;
}

/** A label key Kubernetes takes: optional DNS prefix and '/', then a name of at most 63 characters. */
function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefix = slash < 0 ? '' : key.slice(0, slash);
  return isLabelValue(name) && name !== '' && (slash < 0 || (prefix.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix)));
}

/** The Job's deadline (activeDeadlineSeconds): the shorter of settings.timeLimit and the wall-clock limit. */
export function deadlineSeconds(settings: KubernetesSettings, wallClockLimitMs?: number): number {
  const limits = [
    settings.timeLimit !== undefined ? parseTimeLimit(settings.timeLimit) : undefined,
    wallClockLimitMs !== undefined && wallClockLimitMs > 0 ? Math.ceil(wallClockLimitMs / 1000) : undefined
  ].filter((n): n is number => n !== undefined && n > 0);
  return limits.length ? Math.min(...limits) : DEFAULT_DEADLINE_SECONDS;
}

/** Memory, CPUs and GPUs of the experiment container: requests equal to limits (a Guaranteed pod when CPUs are given too). */
export function experimentResources(red: Red): V1ResourceRequirements {
  const s = red.container.settings as Red['container']['settings'] & { cpus?: unknown };
  const limits: Record<string, string> = {};
  if (typeof s.ram === 'number' && s.ram > 0) limits.memory = `${Math.round(s.ram)}Mi`;
  if (typeof s.cpus === 'number' && s.cpus > 0) limits.cpu = `${Math.ceil(s.cpus * 1000)}m`;
  const gpus = gpuCount(red);
  if (gpus > 0) limits[GPU_RESOURCE] = String(gpus);
  return Object.keys(limits).length ? { requests: { ...limits }, limits } : {};
}

/** GPUs the RED asks for: gpus.count, else one per gpus.devices entry, else none. */
export function gpuCount(red: Red): number {
  const g = red.container.settings.gpus;
  if (!g) return 0;
  if (typeof g.count === 'number') return g.count;
  return g.devices?.length ?? 1;
}

/** vramMin (MB, the largest asked for) as a required node affinity on GPU feature discovery's memory label (MiB): Gt N-1 is "at least N". */
export function gpuMemoryAffinity(red: Red): V1NodeAffinity | undefined {
  const mins = (red.container.settings.gpus?.devices ?? []).map(d => d.vramMin).filter(n => typeof n === 'number' && n > 0);
  if (!mins.length) return undefined;
  const min = Math.max(...mins);
  return {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: GPU_MEMORY_LABEL, operator: 'Gt', values: [String(Math.ceil(min) - 1)] }] }]
    }
  };
}

/** The container-level hardening every container of the pod gets. */
function hardened(readOnlyRootFilesystem: boolean): V1SecurityContext {
  return { allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem, seccompProfile: { type: 'RuntimeDefault' } };
}

/** Where inputs may be: the pod has /cc/inputs and /cc/outputs only (no other folder of the image can be given a volume by path). */
export function checkInputPlacement(containerPaths: string[]): void {
  for (const p of containerPaths) {
    const abs = p.startsWith('/') ? p : `${CONTAINER_OUTPUTS_DIR}/${p}`;
    if (!abs.startsWith(CONTAINER_INPUTS_DIR + '/') && !abs.startsWith(CONTAINER_OUTPUTS_DIR + '/')) {
      throw new Error(
        `an input would be placed at ${abs}; the kubernetes engine places inputs only below ${CONTAINER_INPUTS_DIR} or ${CONTAINER_OUTPUTS_DIR}: remove its dirname (or make it relative)`
      );
    }
  }
}

/** The pull Secret's name for a batch's Job. */
export function pullSecretName(job: string): string {
  return `${job}-pull`;
}

/** container.settings.image.auth {username, password} as a kubernetes.io/dockerconfigjson Secret; undefined without both. */
export function buildPullSecret(red: Red, name: string, namespace: string, labels: Record<string, string>): V1Secret | undefined {
  const image = red.container.settings.image;
  const auth = image.auth;
  if (!auth || typeof auth.username !== 'string' || typeof auth.password !== 'string') return undefined;
  const server = registryOf(image.url) ?? 'https://index.docker.io/v1/';
  const config = { auths: { [server]: { username: auth.username, password: auth.password, auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels },
    type: 'kubernetes.io/dockerconfigjson',
    immutable: true,
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') }
  };
}

/** Every secret value of a filled RED (below protected keys, and connectors' secret access fields). */
export function secretValuesOf(red: Red): string[] {
  const found: string[] = [];
  const walk = (node: unknown, secret: boolean, underAccess: boolean): void => {
    if (Array.isArray(node)) node.forEach(v => walk(v, secret, underAccess));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        walk(v, secret || isProtectedKey(k) || (underAccess && SECRET_ACCESS_KEYS.includes(k)), underAccess || k === 'access' || k === 'auth');
      }
    } else if (secret && (typeof node === 'string' || typeof node === 'number') && String(node).length >= 3) found.push(String(node));
  };
  walk(red, false, false);
  return found;
}

/** The Job and the pull Secret of one batch. Throws when the RED cannot run as a pod (an input placed outside /cc, a secret that would reach the Job). */
export function buildBatchObjects(input: BatchManifestInput, inputPaths: string[] = []): BatchObjects {
  const { red, plan, runId, settings } = input;
  checkInputPlacement(inputPaths);
  const name = jobName(runId, plan.index);
  const namespace = settings.namespace ?? 'default';
  const ownLabels = { [LABEL_MANAGED]: 'true', [LABEL_RUN]: toLabelValue(runId), [LABEL_BATCH]: String(plan.index) };
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = { 'org.redlab.run-id': runId };
  for (const [k, v] of Object.entries(input.labels ?? {})) {
    if (!isLabelKey(k) || k in ownLabels) continue;
    if (isLabelValue(v)) labels[k] = v;
    else annotations[k] = v;
  }
  Object.assign(labels, ownLabels);

  const pullSecret = buildPullSecret(red, pullSecretName(name), namespace, labels);
  const helperImage = settings.helperImage ?? DEFAULT_HELPER_IMAGE;
  const keepStreams = { stdout: !!plan.streams.stdout, stderr: !!plan.streams.stderr };
  const wrap = keepStreams.stdout || keepStreams.stderr;
  const claim = settings.inputsClaim;
  const runAsNonRoot = settings.runAsNonRoot === true || (settings.runAsUser !== undefined && settings.runAsUser > 0);
  const helperUser = runAsNonRoot && settings.runAsUser === undefined ? { runAsUser: HELPER_NON_ROOT_UID, runAsGroup: HELPER_NON_ROOT_UID } : {};

  const volumes: V1Volume[] = [
    claim ? { name: 'inputs', persistentVolumeClaim: { claimName: claim } } : { name: 'inputs', emptyDir: {} },
    { name: 'outputs', emptyDir: {} },
    { name: 'redlab', emptyDir: {} }
  ];
  // On a claim shared by many batches, each batch has its own folder.
  const inputsMount = (readOnly: boolean): V1VolumeMount => ({ name: 'inputs', mountPath: CONTAINER_INPUTS_DIR, readOnly, ...(claim ? { subPath: `redlab/${name}` } : {}) });
  const outputsMount = (readOnly: boolean): V1VolumeMount => ({ name: 'outputs', mountPath: CONTAINER_OUTPUTS_DIR, readOnly });
  const controlMount: V1VolumeMount = { name: 'redlab', mountPath: CONTROL_DIR };

  const stage: V1Container = {
    name: STAGE_CONTAINER,
    image: helperImage,
    command: ['sh', '-c', stageScript(wrap)].map(escapeArgument),
    volumeMounts: [inputsMount(false), outputsMount(false), controlMount],
    resources: HELPER_RESOURCES,
    securityContext: { ...hardened(true), ...helperUser }
  };
  const main: V1Container = {
    name: MAIN_CONTAINER,
    image: red.container.settings.image.url,
    command: (wrap ? wrapCommand(plan.command, keepStreams) : plan.command).map(escapeArgument),
    workingDir: CONTAINER_OUTPUTS_DIR,
    volumeMounts: [
      inputsMount(true),
      outputsMount(false),
      // Only what the wrapper needs, never the flags: the experiment cannot end its pod's collection.
      ...(wrap ? [{ name: 'redlab', mountPath: TOOLS_DIR, subPath: 'bin', readOnly: true }, { name: 'redlab', mountPath: STREAMS_DIR, subPath: 'streams' }] : [])
    ],
    resources: experimentResources(red),
    securityContext: hardened(settings.readOnlyRootFilesystem ?? false)
  };
  const keeper: V1Container = {
    name: KEEPER_CONTAINER,
    image: helperImage,
    command: ['sh', '-c', keeperScript(!!claim)].map(escapeArgument),
    volumeMounts: [outputsMount(true), controlMount, ...(claim ? [inputsMount(false)] : [])],
    resources: HELPER_RESOURCES,
    securityContext: { ...hardened(true), ...helperUser }
  };
  const affinity = gpuMemoryAffinity(red);
  const pullSecrets = [...(settings.imagePullSecrets ?? []), ...(pullSecret ? [pullSecret.metadata!.name as string] : [])];

  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels, annotations },
    spec: {
      backoffLimit: 0,
      completions: 1,
      parallelism: 1,
      activeDeadlineSeconds: deadlineSeconds(settings, input.wallClockLimitMs),
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS,
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 10,
          ...(settings.serviceAccount ? { serviceAccountName: settings.serviceAccount } : {}),
          ...(pullSecrets.length ? { imagePullSecrets: pullSecrets.map(n => ({ name: n })) } : {}),
          securityContext: {
            seccompProfile: { type: 'RuntimeDefault' },
            ...(runAsNonRoot ? { runAsNonRoot: true } : {}),
            ...(settings.runAsUser !== undefined ? { runAsUser: settings.runAsUser } : {}),
            ...(settings.runAsGroup !== undefined ? { runAsGroup: settings.runAsGroup } : {})
          },
          ...(affinity ? { affinity: { nodeAffinity: affinity } } : {}),
          initContainers: [stage],
          containers: [main, keeper],
          volumes
        }
      }
    }
  };

  const text = JSON.stringify(job);
  for (const secret of secretValuesOf(red)) {
    if (text.includes(secret)) throw new Error(`a secret value of the RED would be written into the Job ${name} in plain text; secrets belong below access/auth of connectors or image.auth only`);
  }
  return { job, ...(pullSecret ? { pullSecret } : {}) };
}
