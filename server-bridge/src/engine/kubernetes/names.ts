// Names and label values Kubernetes accepts (DNS-1123 labels and subdomains, label values),
// made from run ids and batch indexes that may hold anything a run id may.
import { createHash } from 'crypto';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every(part => DNS1123_LABEL.test(part));
}

export function isLabelValue(s: string): boolean {
  return s.length <= 63 && LABEL_VALUE.test(s);
}

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * `text` as a label value (at most 63 of [A-Za-z0-9._-], alphanumeric at both ends): as it is
 * when it is one, else cleaned and ended by a hash of the original, so two different run ids
 * never share a value.
 */
export function toLabelValue(text: string): string {
  if (isLabelValue(text)) return text;
  const clean = text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 54).replace(/[^A-Za-z0-9]+$/, '');
  return clean ? `${clean}-${shortHash(text)}` : shortHash(text);
}

/** `prefix-<text>-<suffix>` as a DNS-1123 label (≤ 63): lower case, other characters as '-', shortened with a hash when too long or changed. */
export function toDnsLabel(prefix: string, text: string, suffix: string): string {
  const clean = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  const plain = [prefix, clean, suffix].filter(Boolean).join('-');
  if (clean === text && isDns1123Label(plain)) return plain;
  const room = 63 - prefix.length - suffix.length - 8 - 3;
  const cut = clean.slice(0, Math.max(0, room)).replace(/-+$/, '');
  return [prefix, cut, shortHash(text), suffix].filter(Boolean).join('-');
}

/** The Job (and Secret) name of a batch: `redlab-<run>-<batch>`. */
export function jobName(runId: string, batch: number): string {
  return toDnsLabel('redlab', runId, String(batch));
}
