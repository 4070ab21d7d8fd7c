// The bounds on container.settings numbers. schema/red.schema.json writes the same
// numbers (JSON cannot import them; a test checks that they agree), the validator
// gives RAM_RANGE_FIX for every ram out of range, the panel and the engine use them.
import { formatBytes } from './units';

/** The least RAM (MB) a RED may ask for: Curious Containers' schema minimum, well above Docker's 6 MB floor. */
export const RAM_MIN_MB = 256;
/**
 * The most RAM (MB) any RED may ask for, 64 TiB: beyond any single machine, and
 * small enough that its byte count is an exact integer for Docker. The engine also
 * refuses more than its own memory (`docker info` MemTotal).
 */
export const RAM_MAX_MB = 64 * 1024 * 1024;
/** The least GPU memory (MB) a device entry may ask for (Curious Containers' minimum). */
export const VRAM_MIN_MB = 256;
/** The most GPU memory (MB) one device entry may ask for, 1 TiB: beyond any GPU. */
export const VRAM_MAX_MB = 1024 * 1024;
/** The most GPUs a RED may ask for (count, or entries in devices). */
export const GPU_COUNT_MAX = 64;

/** The one fix for a container.settings.ram out of range, wherever it is found. */
export const RAM_RANGE_FIX = `ram is in MB, a whole number from ${RAM_MIN_MB} to ${RAM_MAX_MB} (64 TiB) and no more than the Docker engine's memory: e.g. ram: 1024`;

/** Why `mb` cannot be container.settings.ram (the validator's words), or undefined when it can. */
export function ramRangeProblem(mb: number): string | undefined {
  if (!Number.isInteger(mb)) return `must be a whole number, found ${mb}`;
  if (mb < RAM_MIN_MB) return `must be at least ${RAM_MIN_MB}, found ${mb}`;
  if (mb > RAM_MAX_MB) return `must be at most ${RAM_MAX_MB}, found ${mb}`;
  return undefined;
}

/**
 * Why a RAM request of `ramMb` MB cannot run on an engine with `memTotalBytes` of
 * memory, or undefined when it fits. Docker itself takes any limit, so a request the
 * host cannot meet would otherwise run with no limit in effect.
 */
export function ramExceedsEngine(ramMb: number, memTotalBytes: number): { message: string; fix: string } | undefined {
  if (!(memTotalBytes > 0)) return undefined;
  const memMb = Math.floor(memTotalBytes / (1024 * 1024));
  if (ramMb <= memMb) return undefined;
  return {
    message: `container.settings.ram asks for ${ramMb} MB (${formatBytes(ramMb * 1024 * 1024)}), more than the Docker engine's memory of ${memMb} MB (${formatBytes(memTotalBytes)}, docker info MemTotal ${memTotalBytes} bytes)`,
    fix: `lower container.settings.ram to at most ${memMb} (MB), or run it on an engine with more memory`
  };
}
