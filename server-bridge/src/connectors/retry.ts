// Retries for the connectors' transient failures: a connection reset, refused or timed
// out, an HTTP 5xx/429, an SFTP/FTP connection dropped mid-transfer. Exponential backoff
// with full jitter (a random wait up to base * 2^n, capped), so that runs retrying
// against one struggling server do not come back in lockstep. Never retried: login
// refused, a missing file, a checksum mismatch (all permanent: waiting changes nothing).
import { ConnectorError, type ConnectorContext } from './types';

/** A connector failure that may pass if tried again (the connectors mark what they know to be). */
export class TransientConnectorError extends ConnectorError {
  readonly transient = true;
  constructor(message: string) {
    super(message);
    this.name = 'TransientConnectorError';
  }
}

export const isTransient = (err: unknown): err is TransientConnectorError => err instanceof TransientConnectorError;

export interface RetryPolicy {
  /** Tries in all, the first included (1: no retry). */
  attempts: number;
  /** The first wait's upper bound; each next one doubles. */
  baseDelayMs: number;
  /** No wait is longer than this. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 15_000 };

/** Error codes of a connection that failed or broke: worth another try. */
export const TRANSIENT_NET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETRESET', 'ESOCKETTIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

/** HTTP statuses that say "not now" rather than "never". */
export const isTransientHttpStatus = (status: number): boolean => status === 429 || status === 408 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);

export interface RetryOptions {
  policy?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Told before each wait (a note for people: "retrying in 1.2 s"). */
  onRetry?: (info: { attempt: number; attempts: number; delayMs: number; error: Error }) => void;
  /** For tests: [0, 1). */
  random?: () => number;
}

/** The wait before try `attempt + 1` (attempt counts from 1): full jitter on a doubling, capped bound. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const bound = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(bound * random());
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ConnectorError('cancelled'));
    const onAbort = () => {
      clearTimeout(t);
      reject(new ConnectorError('cancelled'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, fails with an error that is not transient (thrown as it
 * is), or has failed `attempts` times: then a ConnectorError says how many tries and the
 * last cause. A cancelled signal stops at once.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.policy };
  const attempts = Math.max(1, Math.floor(policy.attempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransient(err) || opts.signal?.aborted) throw err;
      if (attempt >= attempts) {
        throw new ConnectorError(attempts > 1 ? `${err.message} (gave up after ${attempts} attempts; this was the last one's error)` : err.message);
      }
      const delayMs = backoffDelay(attempt, policy, opts.random);
      opts.onRetry?.({ attempt, attempts, delayMs, error: err });
      await sleep(delayMs, opts.signal);
    }
  }
}

/** Retry options from a connector context: its policy and signal, each retry told to people through onInfo. */
export function contextRetry(ctx: ConnectorContext): RetryOptions {
  return {
    policy: ctx.retry,
    signal: ctx.signal,
    onRetry: ({ attempt, attempts, delayMs, error }) => ctx.onInfo?.(`${error.message}; trying again in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${attempts})`)
  };
}

/** A socket-level failure (reset, refused, timed out, cut off) rather than an answer: worth another try. */
export function isTransientNetError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && TRANSIENT_NET_CODES.has(code)) return true;
  return /socket hang up|\baborted\b|premature close/i.test(String((err as Error | undefined)?.message ?? ''));
}
