// Run ids: ULID-shaped (26 characters of Crockford base32: 48-bit millisecond time,
// then 80 random bits). Ids sort by creation time as plain strings, so the store pages
// by id; within one millisecond the random part is incremented, so ids made by one
// process are strictly increasing.
import { randomBytes } from 'crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RUN_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function freshRandom(): number[] {
  const bytes = randomBytes(16);
  return Array.from({ length: 16 }, (_, i) => bytes[i] & 31);
}

/** Increments a base-32 digit array; false on overflow. */
function increment(digits: number[]): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i] < 31) {
      digits[i]++;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

/** A new, unique, time-sortable run id. */
export function newRunId(now: number = Date.now()): string {
  if (now <= lastTime) {
    // Same (or earlier: clock stepped back) millisecond: stay monotonic.
    if (!increment(lastRandom)) {
      lastTime++;
      lastRandom = freshRandom();
    }
  } else {
    lastTime = now;
    lastRandom = freshRandom();
  }
  return encodeTime(lastTime) + lastRandom.map(d => ALPHABET[d]).join('');
}

/** True for a string shaped like a run id (safe as a folder name). */
export function isRunId(s: unknown): s is string {
  return typeof s === 'string' && RUN_ID.test(s);
}

/** Milliseconds since the epoch encoded in a run id. */
export function runIdTime(id: string): number {
  let t = 0;
  for (const c of id.slice(0, 10)) t = t * 32 + ALPHABET.indexOf(c);
  return t;
}
