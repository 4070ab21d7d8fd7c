// The bridge's one owner of run state: it validates submissions, keeps filled
// secrets in memory only, queues runs with a parallelism limit and GPU
// assignment, drives the engine, writes everything into the durable RunStore,
// and after a crash reattaches to the containers it left behind. It knows engines only
// through the Engine seam (engine/types.ts), by name from the EngineRegistry.
import * as path from 'path';
import type { Logger } from 'pino';
import { executionEngine, loadRed, fillVariables, listVariables, registerSecrets, SecretMasker, RedError, type GpuRequirement, type LoadedRed, type Red, isFinalState, isForwardTransition, statesTowards, type BatchResult, type FinalState, type RunEvent, type RunResult, type RunState } from '../../../src/red';
import type { BatchRecord, RunRecord, RunStore } from '../store';
import type { Engine, EngineRecovery, EngineRefusal, ManagedContainer } from '../engine/types';
import type { EngineRegistry } from '../engine/registry';
import { GpuPool } from './gpu-pool';
import { writeBridgeRunRecord } from './run-record';
import { RequestError, type HealthInfo, type RunService, type SessionService, type SubmitInput } from './service';

export interface RunManagerConfig {
  /** Runs executing at once. */
  parallel: number;
  /** Host folders local inputs may come from. */
  allowedRoots: string[];
  /** Folder relative local input paths start from when a run names no RED file (the Jupyter root). */
  baseDir: string;
  wallClockLimitMs?: number;
  /** When set, only images matching one of these patterns (`*` wildcard) may run. */
  imageAllowlist?: string[];
  version: string;
  /** Sample CPU/memory every second while a container runs. */
  stats?: boolean;
}

interface Pending {
  loaded: LoadedRed;
  /** The RED as submitted, before filling, and the run's secrets: for its run record. */
  template?: Red;
  masker?: SecretMasker;
  /** The engine it goes to: GPUs come from that engine's pool. */
  engine: string;
}

export class RunManager implements RunService {
  private readonly queue: string[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** GPUs in use, per engine (a remote engine's GPUs are its host's). */
  private readonly gpuPools = new Map<string, GpuPool>();
  private accepting = true;
  private closed = false;
  /** Container sessions (the /sessions routes): start.ts sets its SessionManager here. */
  sessions?: SessionService;

  constructor(
    readonly store: RunStore,
    readonly engines: EngineRegistry,
    private readonly config: RunManagerConfig,
    private readonly log: Logger
  ) {}

  /** Reads the engines' GPU inventories and recovers what a previous bridge left unfinished. */
  async start(): Promise<void> {
    await Promise.all(this.engines.all().map(async e => e.gpuInventory && this.gpus(e.name).update(await e.gpuInventory())));
    await this.recover();
    this.pump();
  }

  /** The GPU pool of an engine (empty for one without GPUs); sessions take their GPUs from it too. */
  gpus(engine: string): GpuPool {
    let pool = this.gpuPools.get(engine);
    if (!pool) this.gpuPools.set(engine, (pool = new GpuPool([], this.engines.names.includes(engine) ? this.engines.get(engine).location : undefined)));
    return pool;
  }

  // ---------------------------------------------------------------------------
  // RunService

  async submit(input: SubmitInput): Promise<{ id: string; state: RunState }> {
    if (!this.accepting) throw new RequestError(503, 'the bridge is shutting down; submit again once it is back');
    const loaded = loadSubmittedRed(input.red);
    const red = loaded.red;
    const values = input.variables ?? {};
    for (const [k, v] of Object.entries(values)) {
      if (typeof v !== 'string') throw new RequestError(400, `variables.${k} must be a string`);
    }
    const missing = listVariables(red)
      .map(v => v.name)
      .filter(n => !(n in values));
    if (missing.length) {
      throw new RequestError(422, `missing values for {{variables}}: ${missing.join(', ')}`, { fix: 'send them in "variables": {"name": "value"}' });
    }
    const image = red.container.settings.image.url;
    // options.engine (the panel's choice) wins; else the engine the RED's execution.engine names.
    const engine = input.options?.engine !== undefined ? this.engineFor(input.options.engine) : this.engineFor(executionEngine(red), 'execution.engine');
    // A cluster's scheduler queues the batches: all at once by default (up to the limit below).
    const parallel = input.options?.parallel ?? (engine.capabilities.queuesBatches ? Math.min(64, 'batches' in red ? red.batches.length : 1) : 1);
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new RequestError(400, 'options.parallel must be a whole number from 1 to 64');
    if (!(await this.imageAllowed(image, engine))) {
      throw new RequestError(403, `image ${image} is not in this bridge's image allowlist (${this.config.imageAllowlist!.join(', ')})`, {
        fix: 'use an allowed image, or ask the bridge administrator to allow it'
      });
    }
    const refusal = unsupported(engine, red, this.engines.all()) ?? (await engine.precheck?.(red).catch(() => undefined));
    if (refusal) throw new RequestError(422, refusal.message, { fix: refusal.fix, issues: [{ path: refusal.path, message: refusal.message, fix: refusal.fix, severity: 'error' }] });

    // The run's secrets, built once from the filled variables: the store masks every
    // write with them (the one choke point; the engine does not mask), until the run ends.
    const masker = new SecretMasker();
    registerSecrets(red, values, masker);
    const record = this.store.createRun({
      red,
      secrets: masker,
      options: { ...input.options, parallel, engine: engine.name },
      image: { url: image },
      wallClockLimitMs: this.config.wallClockLimitMs
    });
    const impossible = engine.capabilities.schedulesGpus ? undefined : this.gpus(engine.name).impossible(red.container.settings.gpus);
    if (impossible) {
      this.store.setState(record.id, 'failed', { error: impossible });
      this.store.releaseSecrets(record.id);
      return { id: record.id, state: 'failed' };
    }
    this.pending.set(record.id, { loaded: { ...loaded, red: fillVariables(red, values) }, engine: engine.name, template: red, masker });
    this.queue.push(record.id);
    this.pump();
    return { id: record.id, state: this.store.getSummary(record.id)?.state ?? 'queued' };
  }

  async cancel(id: string): Promise<{ id: string; state: RunState } | undefined> {
    const summary = this.store.getSummary(id);
    if (!summary) return undefined;
    if (isFinalState(summary.state)) return { id, state: summary.state };
    const queued = this.queue.indexOf(id);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.pending.delete(id);
      this.store.setState(id, 'cancelled', { error: 'cancelled before it started' });
      this.store.releaseSecrets(id);
      return { id, state: 'cancelled' };
    }
    const running = this.active.get(id);
    if (running) {
      running.controller.abort();
      await running.done;
    }
    return { id, state: this.store.getSummary(id)?.state ?? summary.state };
  }

  async health(): Promise<HealthInfo> {
    const engines = await this.engines.infos();
    const dockerInfo = engines.find(e => e.name === 'docker');
    // Kept for clients that predate `engines`: the `docker` engine's status.
    const docker: HealthInfo['docker'] = dockerInfo
      ? { reachable: dockerInfo.available, ...(dockerInfo.version ? { version: dockerInfo.version } : {}), ...(dockerInfo.error ? { error: dockerInfo.error } : {}) }
      : { reachable: false, error: 'no docker engine configured' };
    for (const e of engines) if (e.gpus) this.gpus(e.name).update(e.gpus);
    return {
      status: engines.find(e => e.name === this.engines.defaultName)?.available ? 'ok' : 'degraded',
      version: this.config.version,
      docker,
      // Kept for clients that predate `engines`: the GPUs of the docker engine (or the default one).
      gpus: [...(engines.find(e => e.name === 'docker') ?? engines[0])?.gpus ?? []],
      engines,
      defaultEngine: this.engines.defaultName,
      runs: { queued: this.queue.length, running: this.active.size, parallel: this.config.parallel }
    };
  }

  /** Stops taking runs and lets the running ones go on in their containers (a restart reattaches). */
  async drain(): Promise<void> {
    this.accepting = false;
    this.closed = true;
  }

  /** The engine a submission names (the default when none); 422 naming the engines there are. */
  private engineFor(name: unknown, field: 'options.engine' | 'execution.engine' = 'options.engine'): Engine {
    if (name !== undefined && (typeof name !== 'string' || !name)) throw new RequestError(400, `options.engine must be an engine's name as text (${this.engineNames()}), not ${JSON.stringify(name)}`);
    if (name === undefined || this.engines.names.includes(name)) return this.engines.get(name);
    const message = `${field}: there is no engine ${JSON.stringify(name)} in this bridge; it has ${this.engineNames()}`;
    const fix =
      field === 'execution.engine'
        ? `start the bridge with it (REDLAB_ENGINES=${[...this.engines.names, name].join(',')}), or choose another engine for this run (options.engine)`
        : `set options.engine to one of ${this.engineNames()}, or leave it out for the default (${this.engines.defaultName})`;
    throw new RequestError(422, message, { fix, issues: [{ path: field, message, fix, severity: 'error' }] });
  }

  private engineNames(): string {
    return this.engines.names.map(n => JSON.stringify(n)).join(', ');
  }

  /**
   * Whether the allowlist lets `image` run. A re-run pins the image it reproduces: by
   * `name@sha256:…` (allowed when `name` is), or, for an image built here, by its ID
   * `sha256:…` (allowed when the engine has that image under an allowed name).
   */
  async imageAllowed(image: string, engine: Engine): Promise<boolean> {
    const list = this.config.imageAllowlist;
    if (!list) return true;
    const allowed = (ref: string) => list.some(p => wildcard(p).test(ref));
    if (allowed(image)) return true;
    const pinned = /^(.+)@sha256:[a-f0-9]{64}$/.exec(image);
    if (pinned) return allowed(pinned[1]);
    if (/^sha256:[a-f0-9]{64}$/.test(image) && engine.images) {
      const local = await engine.images.list({}).catch(() => []);
      return local.some(i => i.id === image && i.tags.some(allowed));
    }
    return false;
  }

  get counts(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.active.size };
  }

  /** Resolves when no run is queued or running (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.queue.length || this.active.size) await Promise.all([...this.active.values()].map(a => a.done));
  }

  // ---------------------------------------------------------------------------
  // scheduling

  private pump(): void {
    if (this.closed) return;
    for (let i = 0; i < this.queue.length && this.active.size < this.config.parallel; ) {
      const id = this.queue[i];
      const job = this.pending.get(id);
      if (!job) {
        this.queue.splice(i, 1);
        continue;
      }
      const schedulesGpus = this.engines.names.includes(job.engine) && this.engines.get(job.engine).capabilities.schedulesGpus;
      const gpus = schedulesGpus ? [] : this.gpus(job.engine).allocate(id, job.loaded.red.container.settings.gpus);
      if (!gpus) {
        i++; // waits for GPUs; later runs that fit may go first
        continue;
      }
      this.queue.splice(i, 1);
      this.pending.delete(id);
      const controller = new AbortController();
      const done = this.execute(id, job, gpus.map(g => String(g.index)), controller.signal)
        .catch(err => this.log.error({ err, runId: id }, 'run failed unexpectedly'))
        .finally(() => {
          if (this.store.isOpen) this.store.releaseSecrets(id);
          this.gpus(job.engine).release(id);
          this.active.delete(id);
          this.pump();
        });
      this.active.set(id, { controller, done });
    }
  }

  private async execute(id: string, job: Pending, gpuIds: string[], signal: AbortSignal): Promise<void> {
    this.advance(id, 'preparing');
    const red = job.loaded.red;
    // Every batch has its record from the start (queued): GET /runs/{id} lists them all,
    // the run is collecting only once no batch is left to start, and a restart finds
    // the batches that never started as well.
    const known = new Set((this.store.getRun(id) as RunRecord).batches.map(b => b.index));
    for (let i = 0; i < batchCount(red); i++) if (!known.has(i)) this.store.setBatch(id, i, {});
    const record = this.store.getRun(id) as RunRecord;
    const hasGpus = Boolean(red.container.settings.gpus);
    const startedAt = Date.now();
    let result: RunResult;
    try {
      result = await this.engines.get(engineOf(record)).run(
        {
          loaded: job.loaded,
          baseDir: path.resolve(this.config.baseDir, path.dirname(String(record.options.redPath ?? '.'))),
          outdir: outputsDir(record),
          allowedRoots: this.config.allowedRoots,
          // GPUs the bridge assigns are the run's, so its batches take turns on them (a cluster's scheduler gives each job its own).
          parallel: hasGpus && !this.engines.get(engineOf(record)).capabilities.schedulesGpus ? 1 : Number(record.options.parallel ?? 1),
          leaveContainer: record.options.leaveContainer === true,
          runId: id,
          labels: { 'org.redlab.bridge': 'true' },
          gpuDeviceIds: hasGpus && gpuIds.length ? gpuIds : undefined,
          wallClockLimitMs: record.wallClockLimitMs,
          keepWorkDir: 'on-failure',
          stats: this.config.stats !== false,
          recordBatch: b => this.recordBatch(id, b)
        },
        { signal, onEvent: e => this.onEngineEvent(id, e) }
      );
    } catch (err) {
      result = failedResult(red, (err as Error).message);
    }
    await this.writeRecord(record, result, job.template ?? (record.red as Red), job.masker, startedAt);
    this.finish(id, result);
  }

  /** The run's Process Run Crate in its outputs folder, before its final state is published; a failure to write it is logged, the run's state stands. */
  private async writeRecord(record: RunRecord, result: RunResult, template: Red, masker: SecretMasker | undefined, startedAt: number): Promise<void> {
    if (this.closed) return;
    try {
      const written = await writeBridgeRunRecord({
        store: this.store,
        record,
        result,
        engine: this.engines.names.includes(engineOf(record)) ? this.engines.get(engineOf(record)) : undefined,
        red: template,
        masker,
        outdir: outputsDir(record),
        baseDir: this.config.baseDir,
        startedAt
      });
      for (const c of written) if (c.problems.length) this.log.warn({ runId: record.id, batch: c.batch, problems: c.problems }, 'run record incomplete');
    } catch (err) {
      this.log.warn({ err, runId: record.id }, 'could not write the run record');
    }
  }

  // ---------------------------------------------------------------------------
  // engine events → store

  private onEngineEvent(id: string, e: RunEvent): void {
    if (this.closed) return; // draining: the store is about to close; a restart picks up from Docker
    try {
      switch (e.type) {
        case 'log':
          this.store.appendLog(id, e.batch, e.stream, e.data);
          return;
        case 'batch-state': {
          // Final states come with the batch's result (recordBatch). The engine says
          // `preparing` and `running` before the container exists: a batch the store does
          // not know yet is created by setBatch, so these states are never dropped.
          const batch = this.batchRecord(id, e.batch);
          if (!isFinalState(e.state) && (!batch || isForwardTransition(batch.state, e.state))) {
            this.store.setBatch(id, e.batch, { state: e.state });
          }
          if (e.state === 'running') this.advance(id, 'running');
          if (e.state === 'collecting' && !this.store.getRun(id)?.batches.some(b => b.state === 'running' || b.state === 'queued' || b.state === 'preparing')) {
            this.advance(id, 'collecting');
          }
          return;
        }
        case 'container':
          this.store.setBatch(id, e.batch, { containerId: e.containerId });
          this.store.appendEvent(id, e);
          return;
        default:
          this.store.appendEvent(id, e);
      }
    } catch (err) {
      this.log.warn({ err, runId: id, event: e.type }, 'could not record an engine event');
    }
  }

  /**
   * Stores a batch's final result the moment the engine has it: the engine removes the
   * batch's container and work folder only after this, so a bridge killed before it
   * finds the batch again and collects it anew. False while draining (the store closes).
   */
  private recordBatch(id: string, b: BatchResult): boolean {
    if (this.closed) return false;
    try {
      const current = this.batchRecord(id, b.index);
      if (!current || !isFinalState(current.state)) {
        this.store.setBatch(id, b.index, {
          state: b.state,
          command: b.command,
          timings: b.timings,
          outputs: b.outputs,
          ...(b.exitCode !== undefined ? { exitCode: b.exitCode } : {}),
          ...(b.error ? { error: b.error } : {})
        });
      }
      return true;
    } catch (err) {
      this.log.warn({ err, runId: id, batch: b.index }, 'could not record a batch result');
      return false;
    }
  }

  /** Batch `index` of the run as stored (batches are listed by index, but may have gaps). */
  private batchRecord(id: string, index: number): BatchRecord | undefined {
    return this.store.getRun(id)?.batches.find(b => b.index === index);
  }

  /** Moves the run forward to `target` through the states in between (never backwards). */
  private advance(id: string, target: RunState): void {
    const current = this.store.getSummary(id)?.state;
    if (!current) return;
    for (const state of statesTowards(current, target)) this.store.setState(id, state);
  }

  private finish(id: string, result: RunResult): void {
    if (this.closed) return;
    const state: FinalState = result.state;
    if (state === 'succeeded') this.advance(id, 'collecting');
    this.store.setImage(id, result.image);
    this.store.setResult(id, result);
    for (const b of result.batches) {
      const current = this.batchRecord(id, b.index);
      if (current && !isFinalState(current.state)) this.store.setBatch(id, b.index, { state: b.state, ...(b.error ? { error: b.error } : {}) });
    }
    // Batches the run never got to (it failed before them: a pull, a bad input) end with it.
    for (const b of this.store.getRun(id)?.batches ?? []) {
      if (!isFinalState(b.state)) this.store.setBatch(id, b.index, { state: state === 'cancelled' ? 'cancelled' : 'failed', error: result.error ?? `the run ${state} before this batch ended` });
    }
    if (!isFinalState(this.store.getSummary(id)?.state ?? 'queued')) this.store.setState(id, state, result.error ? { error: result.error } : {});
  }

  // ---------------------------------------------------------------------------
  // crash recovery

  private async recover(): Promise<void> {
    const unfinished = this.store.unfinishedRuns();
    if (!unfinished.length) return;
    // Each engine that can reattach is asked once for the containers it still has.
    const managed = new Map<string, Promise<ManagedContainer[]>>();
    const containersOf = (engine: Engine): Promise<ManagedContainer[]> => {
      if (!managed.has(engine.name)) {
        managed.set(
          engine.name,
          (engine.recovery as NonNullable<Engine['recovery']>).listManaged().catch(err => {
            this.log.error({ err, engine: engine.name }, 'cannot list containers for recovery');
            return [];
          })
        );
      }
      return managed.get(engine.name)!;
    };
    for (const summary of unfinished) {
      const record = this.store.getRun(summary.id) as RunRecord;
      const red = record.red as Red;
      const engineName = engineOf(record);
      const engine = this.engines.names.includes(engineName) ? this.engines.get(engineName) : undefined;
      const needsSecrets = listVariables(red).length > 0;
      if (!engine) {
        this.store.setState(record.id, 'failed', { error: `the bridge restarted without the ${engineName} engine this run was for (it has ${this.engineNames()}): run it again on one of those` });
        continue;
      }
      let ours: ManagedContainer[] = [];
      let nothingRan: boolean;
      if (engine.recovery) {
        ours = (await containersOf(engine)).filter(c => c.runId === record.id);
        const noneStarted = ours.length > 0 && ours.every(c => c.state === 'created') && record.batches.every(b => !isFinalState(b.state));
        if (noneStarted && !needsSecrets) {
          // Killed between creating a container and starting it: nothing ran, start over cleanly.
          await engine.recovery.remove(ours.map(c => c.containerId)).catch(err => this.log.warn({ err, runId: record.id }, 'could not remove containers that never started'));
          ours = [];
        }
        nothingRan = ours.length === 0 && (noneStarted || record.batches.every(b => !b.containerId));
      } else {
        // An engine that cannot reattach: only a run that never left the queue is safe to start again.
        nothingRan = summary.state === 'queued';
        if (!nothingRan) {
          this.store.setState(record.id, 'failed', { error: `the bridge restarted while this run ran on the ${engine.name} engine, which cannot reattach to it: run it again` });
          continue;
        }
      }
      if (nothingRan) {
        // Nothing ran yet: run it from the start, unless its secrets died with the old bridge.
        if (needsSecrets) {
          this.store.setState(record.id, 'failed', { error: 'the bridge restarted before this run started, and its {{variables}} were kept only in memory: submit it again' });
          continue;
        }
        if (!(await this.imageAllowed(red.container.settings.image.url, engine))) {
          // The allowlist may have been tightened while the bridge was down.
          this.store.setState(record.id, 'failed', { error: `image ${red.container.settings.image.url} is not in this bridge's image allowlist any more` });
          continue;
        }
        this.pending.set(record.id, { loaded: loadSubmittedRed(red), engine: engine.name });
        this.queue.push(record.id);
        this.log.info({ runId: record.id }, 'requeued after restart');
        continue;
      }
      const recovery = engine.recovery as NonNullable<Engine['recovery']>;
      // Its container still holds the GPUs it was given: no other run may get them meanwhile.
      if (red.container?.settings?.gpus && !engine.capabilities.schedulesGpus) await this.reclaimGpus(record.id, red.container.settings.gpus, ours, recovery, this.gpus(engine.name));
      const controller = new AbortController();
      const done = this.resume(record, ours, recovery, controller.signal)
        .catch(err => this.log.error({ err, runId: record.id }, 'recovery failed'))
        .finally(() => {
          this.gpus(engine.name).release(record.id);
          this.active.delete(record.id);
          this.pump();
        });
      this.active.set(record.id, { controller, done });
    }
  }

  /**
   * Marks the GPUs a reattached run's containers were given as held by it; when the
   * engine does not name them, holds what the RED asks for instead.
   */
  private async reclaimGpus(runId: string, req: GpuRequirement, containers: { containerId: string }[], recovery: EngineRecovery, pool: GpuPool): Promise<void> {
    const ids = await Promise.all(containers.map(c => recovery.gpuDeviceIds(c.containerId).catch(() => [] as string[])));
    const claimed = pool.claim(runId, ids.flat());
    const held = claimed.length ? claimed : (pool.allocate(runId, req) ?? []);
    this.log.info({ runId, gpus: held.map(g => g.index) }, 'reattached run holds GPUs');
  }

  private async resume(record: RunRecord, containers: { containerId: string; batch: number }[], recovery: EngineRecovery, signal: AbortSignal): Promise<void> {
    const loaded = loadSubmittedRed(record.red);
    const batches: BatchResult[] = [];
    this.store.appendEvent(record.id, { type: 'info', message: 'the bridge restarted: reattaching to this run' });
    for (const b of record.batches) {
      if (isFinalState(b.state)) {
        // Recorded, but the bridge died before it removed the batch's container and work folder.
        const left = containers.find(c => c.batch === b.index);
        await recovery
          .discardBatch({ runId: record.id, batch: b.index, containerId: left?.containerId, state: b.state as FinalState, leaveContainer: record.options.leaveContainer === true, keepWorkDir: 'on-failure' })
          .catch(err => this.log.warn({ err, runId: record.id, batch: b.index }, 'could not remove what a recorded batch left'));
        batches.push({ index: b.index, state: b.state as FinalState, command: b.command ?? [], exitCode: b.exitCode, inputs: {}, outputs: b.outputs ?? {}, timings: { total: 0, ...b.timings }, error: b.error, outdir: '' });
        continue;
      }
      const container = containers.find(c => c.batch === b.index);
      const result = await recovery.resumeBatch(
        {
          runId: record.id,
          batch: b.index,
          containerId: container?.containerId ?? b.containerId,
          loaded,
          outdir: outputsDir(record),
          alreadyStored: b.logBytes,
          lastState: b.state,
          leaveContainer: record.options.leaveContainer === true,
          baseDir: this.config.baseDir,
          allowedRoots: this.config.allowedRoots,
          keepWorkDir: 'on-failure',
          stats: this.config.stats !== false,
          wallClockLimitMs: record.wallClockLimitMs,
          startedAt: runStartedAt(record),
          recordBatch: r => this.recordBatch(record.id, r)
        },
        { signal, onEvent: e => this.onEngineEvent(record.id, e) }
      );
      batches.push(result);
    }
    const state: FinalState = batches.some(b => b.state === 'cancelled') ? 'cancelled' : batches.every(b => b.state === 'succeeded') ? 'succeeded' : 'failed';
    const total = batches.reduce((t, b) => t + (b.timings.total ?? 0), 0);
    const result: RunResult = {
      state,
      image: record.image ? { url: record.image.url, id: record.image.id, digest: record.image.digest, pulled: record.image.pulled ?? false } : { url: loaded.red.container.settings.image.url, pulled: false },
      batches,
      timings: { total },
      error: batches.find(b => b.error)?.error
    };
    if (!('batches' in loaded.red)) Object.assign(result, { command: batches[0]?.command, exitCode: batches[0]?.exitCode, inputs: batches[0]?.inputs, outputs: batches[0]?.outputs });
    await this.writeRecord(record, result, loaded.red, undefined, runStartedAt(record) ?? Date.now());
    this.finish(record.id, result);
  }
}

/** The engine a stored run is for; runs stored before engines had names ran on Docker. */
function engineOf(record: RunRecord): string {
  const name = (record.options as { engine?: unknown }).engine;
  return typeof name === 'string' && name ? name : 'docker';
}

/**
 * What the RED asks of `engine` that its capabilities say it cannot do (GPUs, batches,
 * connectors), as a refusal naming the field and the engines that can; undefined when it can.
 */
function unsupported(engine: Engine, red: Red, engines: Engine[]): EngineRefusal | undefined {
  const can = (what: (e: Engine) => boolean, otherwise: string): string => {
    const names = engines.filter(what).map(e => e.name);
    return names.length ? `set options.engine to ${names.map(n => `"${n}"`).join(' or ')}` : otherwise;
  };
  const gpus = red.container.settings.gpus;
  if (gpus && !engine.capabilities.gpus) {
    return {
      path: 'container.settings.gpus',
      message: `the ${engine.name} engine cannot give a run GPUs, and container.settings.gpus asks for them`,
      fix: `remove container.settings.gpus, or ${can(e => e.capabilities.gpus, 'use a bridge with a GPU engine')}`
    };
  }
  if (gpus?.devices?.length && !engine.capabilities.gpusByMemory) {
    return {
      path: 'container.settings.gpus.devices',
      message: `the ${engine.name} engine cannot choose GPUs by their memory (vramMin)`,
      fix: `ask for a count instead (container.settings.gpus.count), or ${can(e => e.capabilities.gpusByMemory, 'use a bridge whose engine can')}`
    };
  }
  if ('batches' in red && !engine.capabilities.batches) {
    return {
      path: 'batches',
      message: `the ${engine.name} engine cannot run a RED with batches`,
      fix: `run each batch as a RED of its own, or ${can(e => e.capabilities.batches, 'use a bridge whose engine can')}`
    };
  }
  const jobs = 'batches' in red ? red.batches.map((b, i) => ({ at: `batches.${i}.`, inputs: b.inputs, outputs: b.outputs })) : [{ at: '', inputs: red.inputs, outputs: red.outputs }];
  for (const job of jobs) {
    for (const [key, value] of Object.entries(job.inputs ?? {})) {
      const items = Array.isArray(value) ? value.map((v, i) => [v, `${key}.${i}`] as const) : [[value, key] as const];
      for (const [item, at] of items) {
        const command = connectorCommand(item);
        if (command !== undefined && !engine.capabilities.inputConnectors.includes(command)) {
          return connectorRefusal(engine, `${job.at}inputs.${at}.connector.command`, command, engine.capabilities.inputConnectors, can(e => e.capabilities.inputConnectors.includes(command), ''));
        }
      }
    }
    for (const [key, target] of Object.entries(job.outputs ?? {})) {
      const command = connectorCommand(target);
      if (command !== undefined && !engine.capabilities.outputConnectors.includes(command)) {
        return connectorRefusal(engine, `${job.at}outputs.${key}.connector.command`, command, engine.capabilities.outputConnectors, can(e => e.capabilities.outputConnectors.includes(command), ''));
      }
    }
  }
  return undefined;
}

function connectorCommand(v: unknown): string | undefined {
  const c = v !== null && typeof v === 'object' ? (v as { connector?: { command?: unknown } }).connector : undefined;
  return typeof c?.command === 'string' ? c.command : undefined;
}

function connectorRefusal(engine: Engine, path: string, command: string, supported: string[], elsewhere: string): EngineRefusal {
  return {
    path,
    message: `the ${engine.name} engine has no connector ${command}; it has ${supported.join(', ') || 'none'}`,
    fix: `use one of ${supported.join(', ') || '(none)'}${elsewhere ? `, or ${elsewhere}` : ''}`
  };
}

function batchCount(red: Red): number {
  return 'batches' in red ? red.batches.length : 1;
}

/** When the run left the queue (its wall-clock limit counts from there). */
function runStartedAt(record: RunRecord): number | undefined {
  const at = record.history.find(h => h.batch === null && h.state === 'preparing')?.at;
  return at ? Date.parse(at) : undefined;
}

/** Outputs live with the run's logs, so a purge removes them too (batch N: `outputs_N`). */
function outputsDir(record: RunRecord): string {
  return path.join(record.dir, 'outputs');
}

/** A RED from a request body or the store: an object or YAML/JSON text, validated. */
function loadSubmittedRed(red: unknown): LoadedRed {
  if (red === undefined || red === null) throw new RequestError(400, 'the request has no RED: send {"red": ...} or a RED document');
  try {
    return loadRed(typeof red === 'string' ? red : JSON.stringify(red));
  } catch (err) {
    if (err instanceof RedError) throw new RequestError(422, `invalid RED: ${err.issues.filter(i => i.severity === 'error').length} problem(s)`, { issues: err.issues });
    throw err;
  }
}

function failedResult(red: Red, error: string): RunResult {
  return { state: 'failed', image: { url: red.container.settings.image.url, pulled: false }, batches: [], timings: { total: 0 }, error };
}

function wildcard(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map(s => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}
