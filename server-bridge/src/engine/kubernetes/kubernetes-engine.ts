// The `kubernetes` engine: each batch is a batch/v1 Job (job-manifest.ts) on a cluster the
// kubeconfig names. Everything around the command is the engine-neutral batch of batch.ts, as for
// Docker and the process engine: inputs are staged here through the same connectors (and hashed),
// then streamed into the pod's init container by exec; the pod's `main` container runs the RED's
// command; its log is followed (with reconnect); once `main` has ended its /cc/outputs comes back
// by exec as a tar stream, is unpacked into the batch's work folder without following or writing
// through any link (container-files.ts's extractOutputs, the same as for Docker on another host),
// and is collected from there with the glob and link safety of outputs.ts. Cancel deletes the Job
// (propagation Background: its pod goes too) and its pull Secret.
import { createReadStream, createWriteStream, existsSync } from 'fs';
import { mkdir, rmdir, stat } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import type { BatchV1Api, CoreV1Api, KubeConfig, V1ContainerStatus, V1Node, V1Pod } from '@kubernetes/client-node';
import { type BatchResult, type FinalState, type Red, type RunEvent, type RunResult, toBatches } from '../../../../src/red';
import type { ConnectorContext } from '../../connectors/types';
import { defaultConnectors, type ConnectorRegistry } from '../../connectors/registry';
import { transferEvents } from '../../connectors/transfer-progress';
import { unpackArchive, unpackLimitsFromEnv } from '../../connectors/unpack-archive';
import { removeTree } from '../../util/safe-fs';
import { extractOutputs, inputsArchive } from '../container-files';
import { LineBuffer, TailBuffer } from '../container';
import { stageInputs } from '../staging';
import type { EngineCapacity } from '../../../../src/red';
import type { Engine, EngineCapabilities, EngineRefusal, EngineStatus, KeepWorkDir, RunRequest } from '../types';
import { batchWorkDir, defaultWorkRoot, ensureWorkRoot, runWorkDir } from '../workdir';
import {
  BatchTracker,
  RunFrame,
  cleanupWorkDir,
  concludeRun,
  concludeWithOutputs,
  errorMessage,
  exitMessage,
  keepMode,
  placeCaptureFiles,
  planBatch,
  runBatchesInParallel,
  Stopper,
  streamsDir,
  type BatchPlan,
  type Emitter
} from '../batch';
import { buildBatchObjects, GPU_RESOURCE, LABEL_BATCH, LABEL_RUN, type BatchObjects } from './job-manifest';
import { toLabelValue } from './names';
import { collectOutputsCommand, collectStreamsCommand, KEEPER_CONTAINER, MAIN_CONTAINER, releaseCommand, STAGE_CONTAINER, stageCommand } from './pod-commands';
import { execInPod, followLog } from './pod-io';
import { checkKubernetesSettings, KubernetesSettingsError, redKubernetesSettings, resolveKubernetesSettings, SETTINGS_PATH, type KubernetesSettings } from './settings';

export const KUBERNETES_ENGINE_NAME = 'kubernetes';

/**
 * @kubernetes/client-node, loaded on first use: reading it takes about half a second (its
 * generated API), which every `redlab` command would pay at start-up for an engine it rarely uses.
 */
function k8s(): typeof import('@kubernetes/client-node') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@kubernetes/client-node');
}

/** Failed lists of the batch's pod in a row before the batch fails (with retryMs between them). */
const MAX_WATCH_FAILURES = 5;
/** A CPU quantity ("8", "7500m", "1.5") in CPUs; 0 when it is none of these. */
export function cpuQuantity(q: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(q ?? '');
  return m ? Number(m[1]) / (m[2] ? 1000 : 1) : 0;
}

/** GPUs a pod holds: the larger of its containers' sum and its largest init container (as the scheduler counts). */
function podGpus(p: V1Pod): number {
  const of = (c: { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }) => Number(c.resources?.limits?.[GPU_RESOURCE] ?? c.resources?.requests?.[GPU_RESOURCE] ?? 0) || 0;
  const main = (p.spec?.containers ?? []).reduce((sum, c) => sum + of(c), 0);
  const init = Math.max(0, ...(p.spec?.initContainers ?? []).map(of));
  return Math.max(main, init);
}

/** Waiting reasons of a container that will not start by waiting longer. */
const FATAL_WAITING = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'];

export interface KubernetesEngineOptions {
  /**
   * Settings a RED's execution.settings leaves out, and those only the engine takes (helperImage,
   * runAsNonRoot, runAsGroup, readOnlyRootFilesystem): the site's defaults.
   */
  defaults?: KubernetesSettings;
  /** A loaded KubeConfig (tests, or a bridge that loads its own); default: from settings.kubeconfig/context, else KUBECONFIG, ~/.kube/config or in-cluster. */
  kubeConfig?: KubeConfig;
  /** As DockerEngineOptions.workRoot: <workRoot>/<runId>/batch-N, private. */
  workRoot?: string;
  connectors?: ConnectorRegistry;
  keepWorkDir?: KeepWorkDir;
  hashInputs?: boolean;
  logFlushMs?: number;
  /** Milliseconds between attempts: a watch or log stream opened again, a transient API error retried (default 1000). */
  retryMs?: number;
  /** Milliseconds between reads of a Job's events while it has no pod (default 5000). */
  eventPollMs?: number;
  /** Attempts of a create call that failed transiently (HTTP 429/5xx, connection errors); default 3. */
  submitAttempts?: number;
}

export function createKubernetesEngine(opts: KubernetesEngineOptions = {}): KubernetesEngine {
  return new KubernetesEngine(opts);
}

/** An API error as words: the Status message the server sent, else the client's. */
export function apiErrorMessage(err: unknown): string {
  const e = err as { body?: { message?: string; reason?: string }; statusCode?: number; response?: { statusCode?: number }; message?: string };
  const code = e?.statusCode ?? e?.response?.statusCode;
  const msg = e?.body?.message ?? (typeof e?.body === 'string' ? (e.body as string).slice(0, 300) : undefined) ?? e?.message ?? String(err);
  return code ? `HTTP ${code}: ${msg}` : msg;
}

function statusCodeOf(err: unknown): number | undefined {
  const e = err as { statusCode?: number; response?: { statusCode?: number } };
  return e?.statusCode ?? e?.response?.statusCode;
}

/** Worth another attempt: throttled, the server's trouble, or the connection's. */
function isTransient(err: unknown): boolean {
  const code = statusCodeOf(err);
  if (code !== undefined) return code === 429 || code >= 500;
  return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|socket hang up/.test(errorMessage(err));
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The API clients of one kubeconfig and context. */
interface Cluster {
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
}

/**
 * The batch's pod as the API server last reported it, kept current by a list then a watch,
 * listed and watched again whenever the watch ends (a server timeout, a lost connection, 410 Gone).
 */
class PodWatch {
  pod: V1Pod | undefined;
  deleted = false;
  private waiters = new Set<() => void>();
  private stopped = false;
  private request: { abort(): void } | undefined;
  /** Lists that failed in a row, and the last one's error: past MAX_WATCH_FAILURES the batch fails with it (RBAC, a namespace that is gone). */
  private failures = 0;
  private lastError = '';
  /** Why the batch cannot go on, found elsewhere than in the pod (the Job's events, its deadline). */
  private failure: string | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly namespace: string,
    private readonly selector: string,
    private readonly retryMs: number
  ) {}

  start(): void {
    void this.loop();
  }

  /** Fails every wait now and later with `message`. */
  fail(message: string): void {
    this.failure ??= message;
    this.notify();
  }

  stop(): void {
    this.stopped = true;
    this.request?.abort();
    this.notify();
  }

  private update(pod: V1Pod | undefined, deleted = false): void {
    if (pod) this.pod = pod;
    if (deleted) this.deleted = true;
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const list = await this.cluster.core.listNamespacedPod(this.namespace, undefined, undefined, undefined, undefined, this.selector);
        this.failures = 0;
        const pods = list.body.items ?? [];
        if (pods.length) this.update(pods[0]);
        else if (this.pod) this.update(undefined, true);
        const rv = list.body.metadata?.resourceVersion;
        await new Promise<void>(resolve => {
          new (k8s().Watch)(this.cluster.kc)
            .watch(
              `/api/v1/namespaces/${this.namespace}/pods`,
              { labelSelector: this.selector, allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
              (type: string, obj: V1Pod) => {
                if (type === 'ADDED' || type === 'MODIFIED') this.update(obj);
                else if (type === 'DELETED') this.update(obj, true);
              },
              () => resolve()
            )
            .then(
              req => {
                this.request = req;
                if (this.stopped) req.abort();
              },
              () => resolve()
            );
        });
      } catch (err) {
        // Listed again after a pause; a lasting refusal ends the waiting (until()).
        this.failures++;
        this.lastError = apiErrorMessage(err);
        this.notify();
      }
      if (!this.stopped) await sleep(this.retryMs);
    }
  }

  /** Resolves with what `check` returns once it returns something (checked now and on every change); `check` may throw to fail. */
  until<T>(check: (pod: V1Pod | undefined, deleted: boolean) => T | undefined, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const test = () => {
        if (signal.aborted) return finish(() => reject(new Error('cancelled')));
        if (this.failure) return finish(() => reject(new Error(this.failure)));
        if (this.failures >= MAX_WATCH_FAILURES) return finish(() => reject(new Error(`the batch's pod cannot be read from the API server: ${this.lastError}`)));
        let value: T | undefined;
        try {
          value = check(this.pod, this.deleted);
        } catch (err) {
          return finish(() => reject(err));
        }
        if (value !== undefined) finish(() => resolve(value as T));
        else if (this.stopped) finish(() => reject(new Error('the pod watch was stopped')));
      };
      const finish = (f: () => void) => {
        this.waiters.delete(test);
        signal.removeEventListener('abort', test);
        f();
      };
      this.waiters.add(test);
      signal.addEventListener('abort', test, { once: true });
      test();
    });
  }
}

function statusOf(pod: V1Pod | undefined, name: string, init = false): V1ContainerStatus | undefined {
  return (init ? pod?.status?.initContainerStatuses : pod?.status?.containerStatuses)?.find(s => s.name === name);
}

/** Why the pod will not get further, when it will not: an image that cannot be pulled, a failed pod, a deleted one. */
function podProblem(pod: V1Pod | undefined, deleted: boolean, image: string): string | undefined {
  if (deleted) return 'the pod was deleted before the batch ended (by someone, or by Kubernetes at the Job\'s deadline)';
  if (!pod) return undefined;
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const w = s.state?.waiting;
    if (w?.reason && FATAL_WAITING.includes(w.reason)) {
      const what = s.name === MAIN_CONTAINER ? `the image ${image}` : `the helper image ${s.image}`;
      return `${s.name}: ${w.reason}: ${w.message ?? ''}`.trim() + (w.reason.includes('Pull') || w.reason === 'InvalidImageName' ? ` (the nodes cannot pull ${what}: check the name, that the registry is reachable from the cluster, and image.auth or settings.imagePullSecrets)` : '');
    }
  }
  const stage = statusOf(pod, STAGE_CONTAINER, true)?.state?.terminated;
  if (stage && stage.exitCode !== 0) return `the init container ${STAGE_CONTAINER} failed (exit code ${stage.exitCode}${stage.reason ? `, ${stage.reason}` : ''})`;
  if (pod.status?.phase === 'Failed' && !statusOf(pod, MAIN_CONTAINER)?.state?.terminated) {
    return pod.status.reason === 'DeadlineExceeded'
      ? "Kubernetes stopped the pod at the Job's deadline (activeDeadlineSeconds, from settings.timeLimit or the wall-clock limit)"
      : `the pod failed: ${pod.status.reason ?? ''} ${pod.status.message ?? ''}`.trim();
  }
  return undefined;
}

export class KubernetesEngine implements Engine {
  readonly name = KUBERNETES_ENGINE_NAME;
  readonly capabilities: EngineCapabilities;
  private readonly connectors: ConnectorRegistry;
  private readonly clusters = new Map<string, Cluster>();

  constructor(private readonly opts: KubernetesEngineOptions = {}) {
    this.connectors = opts.connectors ?? defaultConnectors();
    this.capabilities = {
      isolated: true,
      gpus: true,
      gpusByMemory: true,
      batches: true,
      cancel: true,
      inputConnectors: this.connectors.inputCommands,
      outputConnectors: this.connectors.outputCommands,
      // The nodes pull images; RED Lab neither pulls nor lists them.
      imagePull: false,
      imageBuilds: false,
      bindMounts: false,
      reattach: false,
      stats: false,
      sessions: false,
      // nvidia.com/gpu is Kubernetes' to give: the bridge keeps no GPU pool for this engine.
      schedulesGpus: true,
      queuesBatches: true
    };
  }

  get location(): string {
    try {
      const c = this.cluster(this.opts.defaults ?? {});
      return `Kubernetes ${c.kc.getCurrentCluster()?.server ?? ''} (context ${c.kc.getCurrentContext()})`;
    } catch {
      return 'Kubernetes';
    }
  }

  get workRoot(): string {
    return this.opts.workRoot ?? defaultWorkRoot();
  }

  private get retryMs(): number {
    return this.opts.retryMs ?? 1000;
  }

  /** The clients for a kubeconfig/context (one set per pair, made on first use). */
  private cluster(settings: KubernetesSettings): Cluster {
    const key = `${settings.kubeconfig ?? ''}\0${settings.context ?? ''}`;
    let c = this.clusters.get(key);
    if (!c) {
      let kc: KubeConfig;
      if (this.opts.kubeConfig && !settings.kubeconfig) kc = this.opts.kubeConfig;
      else {
        kc = new (k8s().KubeConfig)();
        if (settings.kubeconfig) kc.loadFromFile(settings.kubeconfig);
        else {
          // client-node falls back to http://localhost:8080 when it finds nothing: say so instead.
          const files = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean);
          if (!files.some(f => existsSync(f)) && !existsSync(path.join(os.homedir(), '.kube', 'config')) && !process.env.KUBERNETES_SERVICE_HOST) {
            throw new Error('no kubeconfig: KUBECONFIG names no file, there is no ~/.kube/config, and this is not a pod of a cluster');
          }
          kc.loadFromDefault();
        }
      }
      if (settings.context) {
        if (!kc.getContextObject(settings.context)) {
          throw new Error(`${SETTINGS_PATH}.context: the kubeconfig has no context ${JSON.stringify(settings.context)}; it has ${kc.getContexts().map(x => x.name).join(', ') || 'none'}`);
        }
        if (kc === this.opts.kubeConfig) {
          kc = new (k8s().KubeConfig)();
          kc.loadFromString(this.opts.kubeConfig.exportConfig());
        }
        kc.setCurrentContext(settings.context);
      }
      c = { kc, core: kc.makeApiClient(k8s().CoreV1Api), batch: kc.makeApiClient(k8s().BatchV1Api) };
      this.clusters.set(key, c);
    }
    return c;
  }

  /** Reachability (the API server's version) and capacity (nodes, allocatable GPUs); never throws. */
  async status(): Promise<EngineStatus> {
    let c: Cluster;
    try {
      c = this.cluster(this.opts.defaults ?? {});
    } catch (err) {
      return { available: false, error: `no cluster: ${errorMessage(err)}; give a kubeconfig (KUBECONFIG, ~/.kube/config, or the engine's kubeconfig setting)` };
    }
    let version: string | undefined;
    try {
      version = (await c.kc.makeApiClient(k8s().VersionApi).getCode()).body.gitVersion;
    } catch (err) {
      return { available: false, error: `the API server ${c.kc.getCurrentCluster()?.server} is not reachable: ${apiErrorMessage(err)}` };
    }
    const capacity = await this.capacity(c);
    return { available: true, version, note: capacity.note, ...(capacity.capacity ? { capacity: capacity.capacity } : {}) };
  }

  /**
   * Nodes (those Ready and schedulable are "up"), their allocatable CPUs and GPUs (nvidia.com/gpu),
   * and the GPUs free on them: allocatable less what the pods placed there and not ended ask for.
   * A note says what could not be read (RBAC: nodes and pods are cluster-wide).
   */
  async capacity(c: Cluster = this.cluster(this.opts.defaults ?? {})): Promise<{ capacity?: EngineCapacity; note: string }> {
    let nodes: V1Node[];
    try {
      nodes = (await c.core.listNode()).body.items ?? [];
    } catch (err) {
      return { note: `capacity unknown: the nodes cannot be listed (${apiErrorMessage(err)})` };
    }
    const up = nodes.filter(n => n.status?.conditions?.some(x => x.type === 'Ready' && x.status === 'True') && !n.spec?.unschedulable);
    const gpusOf = (n: V1Node) => Number(n.status?.allocatable?.[GPU_RESOURCE] ?? 0) || 0;
    const gpus = up.reduce((sum, n) => sum + gpusOf(n), 0);
    const cpus = up.reduce((sum, n) => sum + cpuQuantity(n.status?.allocatable?.cpu), 0);
    let gpusFree = gpus;
    let freeNote = '';
    if (gpus > 0) {
      try {
        const pods = (await c.core.listPodForAllNamespaces(undefined, undefined, 'status.phase!=Succeeded,status.phase!=Failed')).body.items ?? [];
        const used = new Map<string, number>();
        for (const p of pods) if (p.spec?.nodeName) used.set(p.spec.nodeName, (used.get(p.spec.nodeName) ?? 0) + podGpus(p));
        gpusFree = up.reduce((sum, n) => sum + Math.max(0, gpusOf(n) - (used.get(n.metadata?.name ?? '') ?? 0)), 0);
      } catch (err) {
        freeNote = `; free GPUs unknown, counted as all: the pods cannot be listed (${apiErrorMessage(err)})`;
      }
    }
    return {
      capacity: { nodes: nodes.length, nodesUp: up.length, cpus, gpus, gpusFree },
      note: `${nodes.length} node${nodes.length === 1 ? '' : 's'} (${up.length} ready), ${gpus} allocatable GPU${gpus === 1 ? '' : 's'} (${GPU_RESOURCE}), ${gpusFree} free${freeNote}`
    };
  }

  async precheck(red: Red): Promise<EngineRefusal | undefined> {
    const [first] = checkKubernetesSettings(redKubernetesSettings(red));
    return first;
  }

  async run(req: RunRequest, opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}): Promise<RunResult> {
    const frame = new RunFrame(req, opts, { name: this.name, isolated: true });
    const { emit, runId, result, stopper } = frame;
    const red = req.loaded.red;
    const finish = () => frame.finish();

    let plans: BatchPlan[];
    let settings: KubernetesSettings;
    let cluster: Cluster;
    try {
      frame.check();
      settings = resolveKubernetesSettings(redKubernetesSettings(red), this.opts.defaults);
      cluster = this.cluster(settings);
      // As kubectl: without a namespace in the settings, the context's.
      settings = { ...settings, namespace: settings.namespace ?? cluster.kc.getContextObject(cluster.kc.getCurrentContext())?.namespace ?? 'default' };
      const batches = toBatches(red);
      plans = batches.map((batch, index) => planBatch(req, batch, index, batches.length, 'batches' in red, runId, this.connectors));
      await ensureWorkRoot(this.workRoot);
    } catch (err) {
      result.error = err instanceof KubernetesSettingsError ? err.message : errorMessage(err);
      return finish();
    }
    emit({ type: 'info', message: `batches run as Jobs in namespace ${settings.namespace} of ${cluster.kc.getCurrentCluster()?.server} (context ${cluster.kc.getCurrentContext()})` });
    // The RED's concurrency is the experiment's own limit on the cluster; without one, the run's.
    const parallel = settings.concurrency ?? req.parallel;
    const results = await runBatchesInParallel(plans, parallel, plan => this.runBatch(req, plan, runId, settings, cluster, stopper, emit));
    await rmdir(runWorkDir(this.workRoot, runId)).catch(() => undefined);
    concludeRun(result, red, results, stopper);
    return finish();
  }

  private async runBatch(req: RunRequest, plan: BatchPlan, runId: string, settings: KubernetesSettings, cluster: Cluster, stopper: Stopper, emit: Emitter): Promise<BatchResult> {
    const i = plan.index;
    const track = new BatchTracker(i, plan.command, plan.outdir, emit);
    if (stopper.reason) return track.done(...stopper.stopped('cancelled before this batch started'));
    const wd = batchWorkDir(this.workRoot, runId, i);
    const ctx: ConnectorContext = { baseDir: req.baseDir, allowedRoots: req.allowedRoots, signal: stopper.signal, onInfo: m => track.info(m), onProgress: transferEvents(emit, i) };
    const namespace = settings.namespace ?? 'default';
    let objects: BatchObjects | undefined;
    let watch: PodWatch | undefined;
    let stopWatching = () => undefined as void;
    const failOrStop = (err: unknown, what: string): BatchResult =>
      track.done(...(stopper.reason ? stopper.stopped(what) : (['failed', errorMessage(err)] as [FinalState, string])));

    const result = await (async (): Promise<BatchResult> => {
      try {
        track.setState('preparing');
        await mkdir(runWorkDir(this.workRoot, runId), { recursive: true, mode: 0o700 });
        await removeTree(wd.dir);
        await mkdir(wd.inputs, { recursive: true, mode: 0o700 });
        let staged;
        try {
          staged = await track.phase('staging', () => stageInputs({ items: plan.items, inputsDir: wd.inputs, registry: this.connectors, ctx, hashInputs: this.opts.hashInputs }));
        } catch (err) {
          return failOrStop(err, 'cancelled while staging inputs');
        }
        track.b.inputs = staged.records;
        objects = buildBatchObjects(
          { red: req.loaded.red, plan, runId, settings, wallClockLimitMs: req.wallClockLimitMs, labels: req.labels },
          staged.binds.map(b => b.containerPath)
        );
        const jobName = objects.job.metadata!.name as string;
        track.b.job = { scheduler: this.name, id: `${namespace}/${jobName}` };
        // The archive goes to a file first: its size bounds the upload (stageCommand), and a slow API server never holds a connector's stream.
        const archive = path.join(wd.dir, 'inputs.tar');
        await pipeline(inputsArchive(staged.binds) as unknown as NodeJS.ReadableStream, createWriteStream(archive, { mode: 0o600 }));
        const archiveBytes = (await stat(archive)).size;
        if (stopper.reason) return track.done(...stopper.stopped('cancelled before the Job was created'));

        await this.submit(cluster, namespace, objects);
        track.info(`Job ${namespace}/${jobName} created`);
        const selector = `${LABEL_RUN}=${toLabelValue(runId)},${LABEL_BATCH}=${i}`;
        watch = new PodWatch(cluster, namespace, selector, this.retryMs);
        watch.start();
        const image = req.loaded.red.container.settings.image.url;
        const w = watch;
        stopWatching = this.watchJob(cluster, namespace, jobName, objects.job.spec!.activeDeadlineSeconds!, w);

        // The init container is up: stream the inputs in.
        const podName = await w.until((pod, deleted) => {
          const problem = podProblem(pod, deleted, image);
          if (problem) throw new Error(problem);
          return statusOf(pod, STAGE_CONTAINER, true)?.state?.running ? (pod!.metadata!.name as string) : undefined;
        }, stopper.signal);
        track.b.job.node = w.pod?.spec?.nodeName;
        emit({ type: 'container', batch: i, containerId: `${namespace}/${podName}`, name: podName });
        const up = await execInPod(cluster.kc, { namespace, pod: podName, container: STAGE_CONTAINER, command: stageCommand(archiveBytes), stdin: createReadStream(archive), signal: stopper.signal });
        if (up.exitCode !== 0) throw new Error(`the inputs could not be unpacked in the pod (tar exit code ${up.exitCode}): ${up.stderr.trim().slice(0, 500)}`);

        // main runs: follow its log until it has ended.
        track.setState('running');
        const tail = new TailBuffer();
        const lines = new LineBuffer(data => emit({ type: 'log', batch: i, stream: 'stdout', data }), this.opts.logFlushMs);
        const terminated = await track.phase(
          'running',
          async () => {
            await w.until((pod, deleted) => {
              const problem = podProblem(pod, deleted, image);
              if (problem) throw new Error(problem);
              const s = statusOf(pod, MAIN_CONTAINER)?.state;
              return s?.running || s?.terminated ? true : undefined;
            }, stopper.signal);
            const mainEnded = () => !!statusOf(w.pod, MAIN_CONTAINER)?.state?.terminated || w.deleted;
            const logs = followLog(cluster.kc, {
              namespace,
              pod: podName,
              container: MAIN_CONTAINER,
              signal: stopper.signal,
              retryMs: this.retryMs,
              stillRunning: () => !mainEnded(),
              onReconnect: n => track.info(`the log stream ended while the command runs: reading it again (${n})`),
              onData: text => {
                const buf = Buffer.from(text, 'utf8');
                tail.push(buf);
                lines.push(buf);
              }
            }).catch(err => track.info(`the log could not be read: ${errorMessage(err)}`));
            const ended = await w.until((pod, deleted) => {
              const t = statusOf(pod, MAIN_CONTAINER)?.state?.terminated;
              if (t) return t;
              const problem = podProblem(pod, deleted, image);
              if (problem) throw new Error(problem);
              return undefined;
            }, stopper.signal);
            await logs;
            lines.flush();
            return ended;
          },
          `Job ${namespace}/${jobName}`
        );
        track.b.exitCode = terminated.exitCode;
        track.b.oomKilled = terminated.reason === 'OOMKilled';
        track.b.job.state = terminated.reason;
        track.b.job.node = w.pod?.spec?.nodeName ?? track.b.job.node;
        let state: FinalState = 'failed';
        let error: string | undefined;
        if (track.b.oomKilled) error = `the command ran out of memory (container.settings.ram: ${req.loaded.red.container.settings.ram ?? 'no'} MB) and was killed: raise ram`;
        else if (terminated.exitCode !== 0) error = exitMessage(terminated.exitCode, tail.text());
        else state = 'succeeded';

        let captureErrors: string[] = [];
        try {
          await this.collect(cluster, namespace, podName, plan, wd, stopper.signal);
          captureErrors = await placeCaptureFiles(plan, wd.outputs);
        } catch (err) {
          if (stopper.reason) return track.done(...stopper.stopped('cancelled while collecting outputs'));
          captureErrors = [`the outputs could not be copied from the pod: ${errorMessage(err)}`];
        }
        return await concludeWithOutputs({ track, plan, outputsDir: wd.outputs, ctx, sendOutputs: req.sendOutputs !== false, connectors: this.connectors, captureErrors }, state, error);
      } catch (err) {
        return failOrStop(err, 'cancelled: the Job was deleted');
      }
    })();
    watch?.stop();
    stopWatching();
    if (objects && !req.leaveContainer) await this.deleteObjects(cluster, namespace, objects, track);
    let kept = true;
    try {
      if (req.recordBatch) kept = req.recordBatch(result) !== false;
    } catch {
      kept = false;
    }
    if (kept) await cleanupWorkDir(wd, keepMode(req.keepWorkDir, req.leaveContainer, this.opts.keepWorkDir), track);
    return result;
  }

  /**
   * What the pod watch cannot see: a pod Kubernetes does not create (admission, e.g. PodSecurity;
   * a quota) shows only as the Job's FailedCreate events, read while there is no pod; and a Job
   * whose deadline passed with no pod. Either fails the batch's waits. Returns the stop.
   */
  private watchJob(cluster: Cluster, namespace: string, job: string, deadlineSec: number, w: PodWatch): () => void {
    const poll = setInterval(() => {
      if (w.pod) return;
      cluster.core.listNamespacedEvent(namespace, undefined, undefined, undefined, `involvedObject.kind=Job,involvedObject.name=${job}`).then(
        res => {
          const failed = (res.body.items ?? []).filter(e => e.type === 'Warning' && e.reason === 'FailedCreate').pop();
          if (failed && !w.pod) w.fail(`Kubernetes did not create the Job's pod: ${failed.message ?? 'FailedCreate'}`);
        },
        () => undefined
      );
    }, this.opts.eventPollMs ?? 5000);
    // Past the deadline (and a margin for Kubernetes to say so itself); setTimeout holds at most 2^31-1 ms (24 days).
    const afterMs = (deadlineSec + 30) * 1000;
    const deadline =
      afterMs < 2 ** 31
        ? setTimeout(() => {
            if (!statusOf(w.pod, MAIN_CONTAINER)?.state?.terminated) w.fail(`the Job's deadline of ${deadlineSec} s (activeDeadlineSeconds: settings.timeLimit or the wall-clock limit) passed before the command ended`);
          }, afterMs)
        : undefined;
    poll.unref?.();
    deadline?.unref?.();
    return () => {
      clearInterval(poll);
      clearTimeout(deadline);
    };
  }

  /** /cc/outputs (and the captured streams) out of the pod into the work folder; then the pod may end. */
  private async collect(cluster: Cluster, namespace: string, pod: string, plan: BatchPlan, wd: { dir: string; outputs: string }, signal: AbortSignal): Promise<void> {
    const exec = (command: string[], file?: string) =>
      execInPod(cluster.kc, { namespace, pod, container: KEEPER_CONTAINER, command, stdout: file ? createWriteStream(file, { mode: 0o600 }) : undefined, signal });
    try {
      const outputsTar = path.join(wd.dir, 'outputs.tar');
      const out = await exec(collectOutputsCommand(), outputsTar);
      if (out.exitCode !== 0) throw new Error(`tar of /cc/outputs exited with code ${out.exitCode}: ${out.stderr.trim().slice(0, 500)}`);
      await mkdir(wd.outputs, { mode: 0o700 });
      const fetched = await extractOutputs(createReadStream(outputsTar), wd.outputs);
      if (fetched.skipped.length) throw new Error(`entries of /cc/outputs that are not plain files, folders or links were left out: ${fetched.skipped.join('; ')}`);
      if (plan.streams.stdout || plan.streams.stderr) {
        const streamsTar = path.join(wd.dir, 'streams.tar');
        const s = await exec(collectStreamsCommand({ stdout: !!plan.streams.stdout, stderr: !!plan.streams.stderr }), streamsTar);
        if (s.exitCode !== 0) throw new Error(`tar of the captured streams exited with code ${s.exitCode}: ${s.stderr.trim().slice(0, 500)}`);
        // Only the two capture files are expected there: links or anything else are refused.
        await unpackArchive(streamsTar, 'tar', streamsDir(wd.outputs), unpackLimitsFromEnv(), signal);
      }
    } finally {
      await exec(releaseCommand()).catch(() => undefined);
    }
  }

  /** Creates the pull Secret (if any) and the Job, retrying transient failures; an object that already exists (an earlier attempt's) is taken as created. */
  private async submit(cluster: Cluster, namespace: string, objects: BatchObjects): Promise<void> {
    const attempts = this.opts.submitAttempts ?? 3;
    const create = async (what: string, call: () => Promise<unknown>) => {
      for (let n = 1; ; n++) {
        try {
          await call();
          return;
        } catch (err) {
          if (n > 1 && statusCodeOf(err) === 409) return;
          if (n >= attempts || !isTransient(err)) throw new Error(`could not create the ${what} in namespace ${namespace}: ${apiErrorMessage(err)}`);
          await sleep(this.retryMs * n);
        }
      }
    };
    if (objects.pullSecret) await create(`Secret ${objects.pullSecret.metadata!.name}`, () => cluster.core.createNamespacedSecret(namespace, objects.pullSecret!, undefined, undefined, undefined, 'Strict'));
    await create(`Job ${objects.job.metadata!.name}`, () => cluster.batch.createNamespacedJob(namespace, objects.job, undefined, undefined, undefined, 'Strict'));
  }

  /** Deletes the Job (its pod with it: propagation Background) and the pull Secret; what is gone already is no error. */
  private async deleteObjects(cluster: Cluster, namespace: string, objects: BatchObjects, track: BatchTracker): Promise<void> {
    const ignoreGone = (what: string) => (err: unknown) => {
      if (statusCodeOf(err) !== 404) track.info(`could not delete ${what}: ${apiErrorMessage(err)} (Kubernetes removes it ttlSecondsAfterFinished after it ends)`);
    };
    const job = objects.job.metadata!.name as string;
    await cluster.batch.deleteNamespacedJob(job, namespace, undefined, undefined, undefined, undefined, 'Background').catch(ignoreGone(`the Job ${job}`));
    if (objects.pullSecret) {
      const secret = objects.pullSecret.metadata!.name as string;
      await cluster.core.deleteNamespacedSecret(secret, namespace).catch(ignoreGone(`the Secret ${secret}`));
    }
  }
}
