// Read RED files written for older Curious Containers releases.
//
// RED 8 and RED 9 share the format: a RED 8 file (batches, connector `mount`,
// ssh `writable` access, `gpus: {vendor, count}`, ...) is a RED 9 file with another
// version string, so upgrading it only changes `redVersion` (with a warning that
// says to edit the file). RED 7 era files may still use the `nvidia-docker`
// container engine with `gpus` as a list of `{minVram}` or `{count}`, which maps
// mechanically onto `engine: docker` with `gpus: {vendor: nvidia, ...}`.
// Everything else that differs is left to validation, which names the fix.
//
// Pure TypeScript: no DOM, no Node APIs.

import { RedIssue } from './types';
import { isObj } from './values';

export interface UpgradeResult {
  /** The document as RED 9 (the input itself when nothing changed, else an upgraded copy). */
  doc: Record<string, unknown>;
  /** What was changed in memory, and what to edit in the file. */
  warnings: RedIssue[];
  /** What cannot be upgraded automatically. */
  errors: RedIssue[];
}

export const CURRENT_RED_VERSION = '9';
const UPGRADABLE = new Set(['7', '8']);

export function upgradeLegacy(doc: Record<string, unknown>): UpgradeResult {
  const warnings: RedIssue[] = [];
  const errors: RedIssue[] = [];
  const v = doc.redVersion;

  if (v === CURRENT_RED_VERSION) return { doc, warnings, errors };

  if (v === undefined) {
    errors.push(err('redVersion', 'redVersion is missing', 'add redVersion: "9" (a quoted string) at the top of the file'));
    return { doc, warnings, errors };
  }
  if (typeof v === 'number') {
    errors.push(
      err(
        'redVersion',
        `redVersion must be a quoted string, found the number ${String(v)}`,
        v === 9 ? 'write redVersion: "9" (with quotes)' : `write redVersion: "9" (a quoted string) once the file follows RED 9`
      )
    );
    return { doc, warnings, errors };
  }
  if (typeof v !== 'string') {
    errors.push(err('redVersion', `redVersion must be the string "9", found ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}`, 'write redVersion: "9"'));
    return { doc, warnings, errors };
  }
  if (!UPGRADABLE.has(v)) {
    const older = /^\d+$/.test(v) && Number(v) < 7;
    errors.push(
      err(
        'redVersion',
        older
          ? `redVersion "${v}" is too old to upgrade automatically: RED Lab reads RED 9 (and upgrades 7 and 8)`
          : `redVersion "${v}" is not supported: RED Lab reads RED 9 (and upgrades 7 and 8)`,
        older ? 'rewrite the file in the RED 9 format and write redVersion: "9"' : 'write redVersion: "9" (a quoted string) if the file follows RED 9'
      )
    );
    return { doc, warnings, errors };
  }

  const out = clone(doc) as Record<string, unknown>;
  out.redVersion = CURRENT_RED_VERSION;
  upgradeContainer(out, v, warnings);
  warnings.unshift(warn('redVersion', `redVersion ${v} upgraded in memory: set redVersion: "9"`, 'edit the file: redVersion: "9" (RED 9 reads the rest of this file unchanged)'));
  return { doc: out, warnings, errors };
}

/** `nvidia-docker` → `docker` with `gpus: {vendor: nvidia, ...}`; `minVram` → `vramMin`. */
function upgradeContainer(doc: Record<string, unknown>, version: string, warnings: RedIssue[]): void {
  const container = doc.container;
  if (!isObj(container)) return;
  const settings = isObj(container.settings) ? container.settings : undefined;
  const wasNvidia = container.engine === 'nvidia-docker';
  if (wasNvidia) container.engine = 'docker';

  if (settings) {
    const before = settings.gpus;
    const after = upgradeGpus(before, wasNvidia);
    if (after !== undefined) {
      settings.gpus = after;
      if (wasNvidia) {
        warnings.push(
          warn(
            'container.engine',
            `container engine "nvidia-docker" (RED ${version}) read as "docker" with settings.gpus: ${JSON.stringify(after)}`,
            `edit the file: engine: docker and gpus: ${JSON.stringify(after)}`
          )
        );
      } else {
        warnings.push(warn('container.settings.gpus', `settings.gpus (RED ${version}) read as ${JSON.stringify(after)}`, `edit the file: gpus: ${JSON.stringify(after)}`));
      }
      return;
    }
  }
  if (wasNvidia) {
    warnings.push(warn('container.engine', `container engine "nvidia-docker" (RED ${version}) read as "docker"`, 'edit the file: engine: docker, and give settings.gpus: {vendor: nvidia, count: N}'));
  }
}

function upgradeGpus(gpus: unknown, wasNvidia: boolean): Record<string, unknown> | undefined {
  if (gpus === undefined) return wasNvidia ? { vendor: 'nvidia', count: 1 } : undefined;
  if (Array.isArray(gpus)) {
    // RED 7: a list of devices, each with minVram
    const devices = gpus.map(g => {
      if (!isObj(g)) return g;
      const { minVram, ...rest } = g;
      return minVram !== undefined && rest.vramMin === undefined ? { ...rest, vramMin: minVram } : g;
    });
    return { vendor: 'nvidia', devices };
  }
  if (!isObj(gpus)) return undefined;
  let changed = false;
  const out: Record<string, unknown> = { ...gpus };
  if (out.vendor === undefined && (out.count !== undefined || out.devices !== undefined)) {
    out.vendor = 'nvidia';
    changed = true;
  }
  if (Array.isArray(out.devices)) {
    out.devices = out.devices.map(d => {
      if (isObj(d) && d.minVram !== undefined && d.vramMin === undefined) {
        changed = true;
        const { minVram, ...rest } = d;
        return { ...rest, vramMin: minVram };
      }
      return d;
    });
  }
  return changed ? { vendor: out.vendor, ...out } : undefined;
}

function clone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clone);
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // defineProperty keeps a "__proto__" key an ordinary key
      Object.defineProperty(out, k, { value: clone(x), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

function err(path: string, message: string, fix: string): RedIssue {
  return { path, message, fix, severity: 'error' };
}

function warn(path: string, message: string, fix: string): RedIssue {
  return { path, message, fix, severity: 'warning' };
}
