// A small second engine for tests of the engine seam: it runs nothing, but plays what an
// engine does through the Engine interface (batch states, a log line per batch, the batch
// result handed to recordBatch, the run's result), and records what it was asked.
import * as fs from 'fs';
import * as path from 'path';
import type { BatchResult, RunResult } from '../../../src/red/run';
import type { Red } from '../../../src/red/types';
import type { Engine, EngineCapabilities, EngineRecovery, EngineRefusal, EngineRunOptions, EngineStatus, RunRequest } from '../../src/engine/types';

export const FAKE_CAPABILITIES: EngineCapabilities = {
  isolated: false,
  gpus: false,
  gpusByMemory: false,
  batches: true,
  cancel: true,
  inputConnectors: ['redlab-connector-local'],
  outputConnectors: [],
  imagePull: false,
  imageBuilds: false,
  bindMounts: true,
  reattach: false,
  stats: false,
  sessions: false
};

export interface FakeEngineOptions {
  name?: string;
  capabilities?: Partial<EngineCapabilities>;
  status?: EngineStatus;
  /** What precheck answers (no precheck when absent). */
  refusal?: EngineRefusal;
  recovery?: EngineRecovery;
}

export class FakeEngine implements Engine {
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  readonly recovery?: EngineRecovery;
  readonly precheck?: (red: Red) => Promise<EngineRefusal | undefined>;
  /** Every request run() got, in order. */
  readonly requests: RunRequest[] = [];
  /** The REDs precheck() was asked about. */
  readonly prechecked: Red[] = [];

  constructor(private readonly opts: FakeEngineOptions = {}) {
    this.name = opts.name ?? 'fake';
    this.capabilities = { ...FAKE_CAPABILITIES, ...opts.capabilities, reattach: Boolean(opts.recovery) };
    this.recovery = opts.recovery;
    if (opts.refusal) {
      this.precheck = async red => {
        this.prechecked.push(red);
        return opts.refusal;
      };
    }
  }

  async status(): Promise<EngineStatus> {
    return this.opts.status ?? { available: true, version: 'fake-1', note: 'a test engine: runs nothing' };
  }

  /** Each batch: preparing, running, one log line (`fake <name> batch <i>`), a file `out.txt`, succeeded. */
  async run(req: RunRequest, opts: EngineRunOptions): Promise<RunResult> {
    this.requests.push(req);
    const red = req.loaded.red;
    const count = 'batches' in red ? red.batches.length : 1;
    const batches: BatchResult[] = [];
    for (let i = 0; i < count; i++) {
      opts.onEvent?.({ type: 'batch-state', batch: i, state: 'preparing' });
      opts.onEvent?.({ type: 'batch-state', batch: i, state: 'running' });
      const line = `fake ${this.name} batch ${i}\n`;
      opts.onEvent?.({ type: 'log', batch: i, stream: 'stdout', data: line });
      opts.onEvent?.({ type: 'batch-state', batch: i, state: 'collecting' });
      const outdir = 'batches' in red ? `${req.outdir}_${i}` : req.outdir;
      fs.mkdirSync(outdir, { recursive: true });
      fs.writeFileSync(path.join(outdir, 'out.txt'), line);
      const sha256 = require('crypto').createHash('sha256').update(line).digest('hex');
      const result: BatchResult = {
        index: i,
        state: 'succeeded',
        command: ['fake', String(i)],
        exitCode: 0,
        inputs: {},
        outputs: { out: { path: path.join(outdir, 'out.txt'), class: 'File', size: line.length, sha256 } },
        timings: { total: 1 },
        outdir
      };
      req.recordBatch?.(result);
      batches.push(result);
    }
    const result: RunResult = { state: 'succeeded', image: { url: red.container.settings.image.url, pulled: false }, batches, timings: { total: count } };
    if (!('batches' in red)) Object.assign(result, { command: batches[0].command, exitCode: 0, inputs: {}, outputs: batches[0].outputs });
    return result;
  }
}
