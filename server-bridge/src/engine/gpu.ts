// The host's NVIDIA GPUs (from `nvidia-smi` on PATH) and the choice of GPUs for a
// RED's container.settings.gpus. Reused by the bridge's /health.
import { execFile } from 'child_process';
import type { GpuRequirement, Gpu } from '../../../src/red';

export type { Gpu } from '../../../src/red';

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,uuid,name,memory.total,memory.used', '--format=csv,noheader,nounits'];

/** Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used --format=csv,noheader,nounits`. Lines it cannot read are skipped. */
export function parseGpuCsv(text: string): Gpu[] {
  const gpus: Gpu[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const cols = line.split(',').map(c => c.trim());
    if (cols.length < 5) continue;
    // A name may itself hold a comma: index and uuid lead, the two numbers close.
    const [indexText, uuid] = cols;
    const used = Number(cols[cols.length - 1]);
    const total = Number(cols[cols.length - 2]);
    const name = cols.slice(2, cols.length - 2).join(', ');
    const index = Number(indexText);
    if (!Number.isInteger(index) || !Number.isFinite(total)) continue;
    gpus.push({ index, uuid, name, memoryTotalMb: total, memoryUsedMb: Number.isFinite(used) ? used : 0 });
  }
  return gpus;
}

/**
 * Runs nvidia-smi from PATH. No nvidia-smi, or one that fails (no driver), means
 * no GPUs: an empty list, never an error.
 */
export function readGpuInventory(opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Gpu[]> {
  return new Promise(resolve => {
    execFile('nvidia-smi', NVIDIA_SMI_ARGS, { timeout: opts.timeoutMs ?? 10_000, env: opts.env ?? process.env }, (err, stdout) => {
      if (err) return resolve([]);
      resolve(parseGpuCsv(String(stdout)));
    });
  });
}

/** What to put in HostConfig.DeviceRequests, and which GPUs that means when known. */
export interface GpuSelection {
  deviceRequests: { Driver: string; Count?: number; DeviceIDs?: string[]; Capabilities: string[][] }[];
  /** The chosen GPUs (devices with vramMin); empty for a plain count. */
  selected: Gpu[];
  /** One line for people: what was asked and what it got. */
  summary: string;
}

export class GpuSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuSelectionError';
  }
}

/** `where`: the host the inventory is of, in words (a remote engine's is not this machine). */
export function describeInventory(inventory: readonly Gpu[], where = 'this machine'): string {
  if (!inventory.length) return `nvidia-smi lists no GPUs on ${where}`;
  return `${where} has ${inventory.length} GPU${inventory.length === 1 ? '' : 's'}: ` + inventory.map(g => `#${g.index} ${g.name} (${g.memoryTotalMb} MB)`).join(', ');
}

/**
 * Chooses GPUs for `req` (container.settings.gpus). `count` becomes a Count device
 * request (checked against the inventory when nvidia-smi lists any; with no
 * nvidia-smi the Docker host decides). `devices: [{vramMin}]` picks, for each
 * device (largest vramMin first), the smallest sufficient free GPU by total memory
 * (in MB, as CC compares), and asks for those device IDs.
 */
export function selectGpus(req: GpuRequirement | undefined, inventory: readonly Gpu[], where?: string): GpuSelection | null {
  if (!req) return null;
  const vendor = req.vendor ?? 'nvidia';
  if (vendor !== 'nvidia') throw new GpuSelectionError(`container.settings.gpus.vendor ${String(vendor)} is not supported; only nvidia`);
  const capabilities = [['gpu']];
  if (req.devices && req.devices.length) {
    const wanted = req.devices.map((d, i) => ({ i, vramMin: Number(d?.vramMin ?? 0) }));
    if (!inventory.length) {
      throw new GpuSelectionError(`the RED asks for ${wanted.length} GPU${wanted.length === 1 ? '' : 's'} (${wanted.map(w => `vramMin ${w.vramMin} MB`).join(', ')}), but ${describeInventory(inventory, where)} (is the NVIDIA driver installed and nvidia-smi on PATH?)`);
    }
    const free = [...inventory];
    const chosen = new Map<number, Gpu>();
    for (const w of [...wanted].sort((a, b) => b.vramMin - a.vramMin)) {
      const fits = free.filter(g => g.memoryTotalMb >= w.vramMin).sort((a, b) => a.memoryTotalMb - b.memoryTotalMb || a.memoryUsedMb - b.memoryUsedMb || a.index - b.index);
      if (!fits.length) {
        throw new GpuSelectionError(
          `the RED asks for GPUs with ${wanted.map(x => `vramMin ${x.vramMin} MB`).join(', ')}, but no free GPU has ${w.vramMin} MB: ${describeInventory(inventory, where)}`
        );
      }
      chosen.set(w.i, fits[0]);
      free.splice(free.indexOf(fits[0]), 1);
    }
    const selected = wanted.map(w => chosen.get(w.i) as Gpu);
    return {
      deviceRequests: [{ Driver: 'nvidia', DeviceIDs: selected.map(g => String(g.index)), Capabilities: capabilities }],
      selected,
      summary: `GPUs ${selected.map(g => `#${g.index} ${g.name} (${g.memoryTotalMb} MB)`).join(', ')}`
    };
  }
  const count = req.count ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new GpuSelectionError(`container.settings.gpus.count must be a whole number of at least 1, not ${String(req.count)}`);
  if (inventory.length && count > inventory.length) {
    throw new GpuSelectionError(`the RED asks for ${count} GPUs, but ${describeInventory(inventory, where)}`);
  }
  return {
    deviceRequests: [{ Driver: 'nvidia', Count: count, Capabilities: capabilities }],
    selected: [],
    summary: `${count} GPU${count === 1 ? '' : 's'}`
  };
}

/**
 * The GPUs a scheduler (the bridge) assigned, by nvidia-smi index or UUID, as a device
 * request with those DeviceIDs. Checked against what the RED asks for (at least as
 * many as container.settings.gpus wants); null for an empty list.
 */
export function gpusForDeviceIds(ids: readonly string[], req?: GpuRequirement, inventory: readonly Gpu[] = []): GpuSelection | null {
  const list = ids.map(id => String(id).trim());
  if (!list.length) return null;
  const bad = list.find(id => !/^[A-Za-z0-9][A-Za-z0-9:._-]*$/.test(id));
  if (bad !== undefined) throw new GpuSelectionError(`GPU device id ${JSON.stringify(bad)} is neither an index nor a UUID`);
  if (new Set(list).size !== list.length) throw new GpuSelectionError(`GPU device ids ${list.join(', ')} name a GPU twice`);
  if (req) {
    if ((req.vendor ?? 'nvidia') !== 'nvidia') throw new GpuSelectionError(`container.settings.gpus.vendor ${String(req.vendor)} is not supported; only nvidia`);
    const wanted = req.devices && req.devices.length ? req.devices.length : (req.count ?? 1);
    if (list.length < wanted) {
      throw new GpuSelectionError(`the RED asks for ${wanted} GPU${wanted === 1 ? '' : 's'}, but only ${list.length} ${list.length === 1 ? 'was' : 'were'} assigned (${list.join(', ')})`);
    }
  }
  const selected = list.map(id => inventory.find(g => String(g.index) === id || g.uuid === id)).filter((g): g is Gpu => !!g);
  const named = list.map(id => {
    const g = inventory.find(x => String(x.index) === id || x.uuid === id);
    return g ? `#${g.index} ${g.name} (${g.memoryTotalMb} MB)` : `#${id}`;
  });
  return {
    deviceRequests: [{ Driver: 'nvidia', DeviceIDs: list, Capabilities: [['gpu']] }],
    selected,
    summary: `GPU${list.length === 1 ? '' : 's'} ${named.join(', ')} (assigned by the bridge)`
  };
}
