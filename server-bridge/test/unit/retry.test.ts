// Retries of transient connector failures: how many tries, the waits between them
// (doubling, capped, jittered), what is never retried, and the final error's words.
import { backoffDelay, isTransientHttpStatus, isTransientNetError, TransientConnectorError, withRetries } from '../../src/connectors/retry';
import { ConnectorError } from '../../src/connectors/types';
import { transferEvents, TransferCounter } from '../../src/connectors/transfer-progress';
import { parseByteSize, resolveInputCache } from '../../src/connectors/input-cache';

const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe('withRetries', () => {
  it('tries a transient failure again until it passes, telling each retry', async () => {
    const retries: number[] = [];
    let calls = 0;
    const v = await withRetries(
      async () => {
        if (++calls < 3) throw new TransientConnectorError(`input x: reset ${calls}`);
        return 'ok';
      },
      { policy: fast, onRetry: r => retries.push(r.attempt) }
    );
    expect(v).toBe('ok');
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after the attempts, saying how many and the last cause', async () => {
    let calls = 0;
    const err = await withRetries(
      async () => {
        throw new TransientConnectorError(`input x: GET http://h/f answered HTTP 503 (try ${++calls})`);
      },
      { policy: fast }
    ).catch(e => e as Error);
    expect(calls).toBe(3);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).not.toBeInstanceOf(TransientConnectorError); // not retried again by an outer loop
    expect(err.message).toBe("input x: GET http://h/f answered HTTP 503 (try 3) (gave up after 3 attempts; this was the last one's error)");
  });

  it('never retries a permanent failure (login refused, missing file, checksum mismatch)', async () => {
    let calls = 0;
    const permanent = new ConnectorError('input x: login refused');
    await expect(
      withRetries(async () => {
        calls++;
        throw permanent;
      }, { policy: fast })
    ).rejects.toBe(permanent);
    expect(calls).toBe(1);
  });

  it('stops waiting at once when cancelled', async () => {
    const ac = new AbortController();
    let calls = 0;
    const t0 = Date.now();
    const p = withRetries(
      async () => {
        calls++;
        throw new TransientConnectorError('input x: reset');
      },
      { policy: { attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 }, signal: ac.signal, random: () => 1 }
    );
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toThrow('cancelled');
    expect(calls).toBe(1);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('backoffDelay', () => {
  const policy = { attempts: 10, baseDelayMs: 500, maxDelayMs: 4000 };
  it('doubles its bound each attempt, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map(a => backoffDelay(a, policy, () => 1))).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });
  it('waits a random part of the bound (full jitter)', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.25)).toBe(500);
  });
});

describe('what counts as transient', () => {
  it('HTTP: 5xx, 429 and 408 yes; 4xx, 501 and 505 no', () => {
    expect([500, 502, 503, 504, 429, 408].every(isTransientHttpStatus)).toBe(true);
    expect([400, 401, 403, 404, 410, 501, 505].some(isTransientHttpStatus)).toBe(false);
  });
  it('sockets: reset, refused, timed out, cut off yes; a name not found or a full disk no', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE']) expect(isTransientNetError(Object.assign(new Error('x'), { code }))).toBe(true);
    expect(isTransientNetError(new Error('aborted'))).toBe(true);
    for (const code of ['ENOTFOUND', 'ENOSPC', 'EACCES', 'CERT_HAS_EXPIRED']) expect(isTransientNetError(Object.assign(new Error('x'), { code }))).toBe(false);
  });
});

describe('transfer progress events', () => {
  it('one event a second per transfer, with rate and time left, and a last one when done', () => {
    let now = 0;
    const events: unknown[] = [];
    const ctx = { baseDir: '/', allowedRoots: [], onProgress: transferEvents(e => events.push(e), 2, { now: () => now }) };
    const c = new TransferCounter(ctx, 'input', 'data', 4000);
    c.add(100); // t=0: the transfer starts, no event yet
    now = 500;
    c.add(400);
    now = 1000;
    c.add(500); // 1000 bytes in 1 s
    now = 1500;
    c.add(1000);
    now = 2000;
    c.add(1000); // 3000 bytes in 2 s
    c.done();
    expect(events).toEqual([
      { type: 'transfer-progress', batch: 2, direction: 'input', name: 'data', bytes: 1000, total: 4000, bytesPerSecond: 1000, etaMs: 3000 },
      { type: 'transfer-progress', batch: 2, direction: 'input', name: 'data', bytes: 3000, total: 4000, bytesPerSecond: 1500, etaMs: 667 },
      { type: 'transfer-progress', batch: 2, direction: 'input', name: 'data', bytes: 3000, total: 4000, bytesPerSecond: 1500, done: true }
    ]);
  });

  it('a quick transfer makes no events at all', () => {
    const events: unknown[] = [];
    const ctx = { baseDir: '/', allowedRoots: [], onProgress: transferEvents(e => events.push(e), undefined, { now: () => 0 }) };
    const c = new TransferCounter(ctx, 'output', 'result', 10);
    c.add(10);
    c.done();
    expect(events).toEqual([]);
  });

  it('bytes of a failed try are not counted twice', () => {
    const seen: number[] = [];
    const c = new TransferCounter({ baseDir: '/', allowedRoots: [], onProgress: p => seen.push(p.bytes) }, 'input', 'x');
    c.add(300);
    c.takeBack(300);
    c.add(500);
    expect(seen).toEqual([300, 500]);
  });
});

describe('input cache settings', () => {
  it('sizes with units', () => {
    expect(parseByteSize('20G', 'x')).toBe(20 * 1024 ** 3);
    expect(parseByteSize('500M', 'x')).toBe(500 * 1024 ** 2);
    expect(parseByteSize('1.5k', 'x')).toBe(1536);
    expect(parseByteSize('123', 'x')).toBe(123);
    expect(() => parseByteSize('lots', '--input-cache-max-bytes')).toThrow('--input-cache-max-bytes must be a size in bytes, optionally with K, M, G or T (e.g. 20G), not "lots"');
  });
  it('flag, then REDLAB_INPUT_CACHE (or off), then the default', () => {
    expect(resolveInputCache({ inputCache: 'c' }, {}, '/def', '/cwd')).toEqual({ dir: '/cwd/c', maxBytes: 10 * 1024 ** 3 });
    expect(resolveInputCache({ inputCache: false }, { REDLAB_INPUT_CACHE: '/e' }, '/def', '/cwd')).toEqual({ maxBytes: 10 * 1024 ** 3 });
    expect(resolveInputCache({}, { REDLAB_INPUT_CACHE: 'off', REDLAB_INPUT_CACHE_MAX_BYTES: '1G' }, '/def', '/cwd')).toEqual({ maxBytes: 1024 ** 3 });
    expect(resolveInputCache({}, { REDLAB_INPUT_CACHE: '/e' }, '/def', '/cwd').dir).toBe('/e');
    expect(resolveInputCache({ inputCacheMaxBytes: '2M' }, {}, '/def', '/cwd')).toEqual({ dir: '/def', maxBytes: 2 * 1024 ** 2 });
  });
});
