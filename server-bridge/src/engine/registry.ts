// The engines a bridge (or the CLI) has, by name: the one place that knows which backends
// exist. The run manager, the HTTP routes and the CLI ask it for an engine by name and never
// import a backend themselves; a new engine is its own file plus one entry in createEngines.
import type { Engine, EngineInfo } from './types';

export class UnknownEngineError extends Error {
  constructor(name: string, known: string[]) {
    super(`there is no engine "${name}" here; this bridge has ${known.map(n => `"${n}"`).join(', ')}`);
    this.name = 'UnknownEngineError';
  }
}

export class EngineRegistry {
  private readonly byName = new Map<string, Engine>();

  /** `defaultName` must be one of `engines` (the first when absent). */
  constructor(engines: Engine[], defaultName?: string) {
    if (!engines.length) throw new Error('an engine registry needs at least one engine');
    for (const e of engines) {
      if (this.byName.has(e.name)) throw new Error(`two engines are named "${e.name}"`);
      this.byName.set(e.name, e);
    }
    this.defaultName = defaultName ?? engines[0].name;
    if (!this.byName.has(this.defaultName)) throw new UnknownEngineError(this.defaultName, this.names);
  }

  readonly defaultName: string;

  get names(): string[] {
    return [...this.byName.keys()];
  }

  get default(): Engine {
    return this.byName.get(this.defaultName)!;
  }

  /** The engine of that name (the default when undefined); UnknownEngineError names the ones there are. */
  get(name?: string): Engine {
    const e = this.byName.get(name ?? this.defaultName);
    if (!e) throw new UnknownEngineError(name as string, this.names);
    return e;
  }

  all(): Engine[] {
    return [this.default, ...[...this.byName.values()].filter(e => e !== this.default)];
  }

  /** Every engine as GET /health lists it, the default first, with its GPUs where it has an inventory; never throws. */
  async infos(): Promise<EngineInfo[]> {
    return Promise.all(
      this.all().map(async e => {
        const [status, gpus] = await Promise.all([e.status(), e.gpuInventory?.()]);
        return { name: e.name, ...status, capabilities: e.capabilities, ...(gpus ? { gpus } : {}) };
      })
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map(e => e.close?.().catch(() => undefined)));
  }
}
