// Which GPUs are in use by which run: a GPU is never given to two runs at once,
// and a request no GPU on this host can ever satisfy is refused up front.
import type { GpuRequirement } from '../../../src/red';
import { describeInventory, selectGpus, type Gpu } from '../engine/gpu';

export class GpuPool {
  private readonly taken = new Map<number, string>(); // GPU index → run id

  /** `where`: the host the GPUs are on, in words (default this machine). */
  constructor(
    private inventory: Gpu[],
    private readonly where?: string
  ) {}

  get gpus(): readonly Gpu[] {
    return this.inventory;
  }

  /** Replaces the inventory (e.g. after a refresh); assignments of vanished GPUs are dropped. */
  update(inventory: Gpu[]): void {
    this.inventory = inventory;
    for (const index of this.taken.keys()) if (!inventory.some(g => g.index === index)) this.taken.delete(index);
  }

  /** Why `req` can never be satisfied on this host, or undefined when it can (once GPUs are free). */
  impossible(req: GpuRequirement | undefined): string | undefined {
    if (!req) return undefined;
    const asked = req.devices?.length ? req.devices.map(d => `a GPU with at least ${d.vramMin} MB`).join(', ') : `${req.count ?? 1} GPU${(req.count ?? 1) === 1 ? '' : 's'}`;
    if (!this.inventory.length) return `the RED asks for ${asked}, but ${describeInventory(this.inventory, this.where)}: run it on a machine with NVIDIA GPUs (nvidia-smi on PATH), or remove container.settings.gpus`;
    try {
      this.pick(req, this.inventory);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Takes GPUs for `runId`; undefined when not enough are free right now. */
  allocate(runId: string, req: GpuRequirement | undefined): Gpu[] | undefined {
    if (!req) return [];
    const free = this.inventory.filter(g => !this.taken.has(g.index));
    let chosen: Gpu[];
    try {
      chosen = this.pick(req, free);
    } catch {
      return undefined;
    }
    for (const g of chosen) this.taken.set(g.index, runId);
    return chosen;
  }

  /**
   * Marks the GPUs named by `ids` (nvidia-smi indexes or UUIDs, as in a container's
   * DeviceIDs) as held by `runId`, e.g. a run reattached after a restart. GPUs not in
   * the inventory are skipped; returns those taken.
   */
  claim(runId: string, ids: readonly string[]): Gpu[] {
    const found = this.inventory.filter(g => ids.some(id => id === String(g.index) || id === g.uuid));
    for (const g of found) this.taken.set(g.index, runId);
    return found;
  }

  release(runId: string): void {
    for (const [index, owner] of this.taken) if (owner === runId) this.taken.delete(index);
  }

  holder(index: number): string | undefined {
    return this.taken.get(index);
  }

  private pick(req: GpuRequirement, from: Gpu[]): Gpu[] {
    if (req.devices?.length) return selectGpus(req, from, this.where)?.selected ?? [];
    const count = req.count ?? 1;
    if (count > from.length) throw new Error(`the RED asks for ${count} GPUs, but ${describeInventory(from, this.where)}`);
    return [...from].sort((a, b) => a.memoryUsedMb - b.memoryUsedMb || a.index - b.index).slice(0, count);
  }
}
