// `execution.settings` of a RED that runs on Kubernetes (`execution: {engine: kubernetes,
// settings: {...}}`), checked field by field: every problem names the field and the fix.
// The engine's own options (createKubernetesEngine) give the defaults a RED leaves out, and the
// settings the RED schema does not have (runAsGroup, runAsNonRoot, readOnlyRootFilesystem,
// helperImage: the site's business, not the experiment's).
import { timeLimitProblem, type KubernetesSettings as RedKubernetesSettings } from '../../../../src/red';
import { isDns1123Label, isDns1123Subdomain } from './names';

/**
 * The RED's `execution.settings` (src/red's KubernetesSettings, checked by the RED schema) plus
 * what only the engine's own options set.
 */
export interface KubernetesSettings extends RedKubernetesSettings {
  runAsGroup?: number;
  /** The image runs as a non-root user by itself: Kubernetes refuses to start it as root. */
  runAsNonRoot?: boolean;
  /** The experiment container's root filesystem read-only (default false: many programs write to /tmp). */
  readOnlyRootFilesystem?: boolean;
  /** Image of the helper containers (stage inputs, keep the pod for output collection): needs sh, tar, head, sleep, touch. */
  helperImage?: string;
}

export interface SettingsIssue {
  /** Dotted path in the RED (execution.settings.namespace). */
  path: string;
  message: string;
  fix: string;
}

export class KubernetesSettingsError extends Error {
  constructor(readonly issues: SettingsIssue[]) {
    super(issues.map(i => `${i.path}: ${i.message}; ${i.fix}`).join('\n'));
    this.name = 'KubernetesSettingsError';
  }
}

export const SETTINGS_PATH = 'execution.settings';
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TTL_SECONDS = 3600;
/** busybox: sh, tar, head, sleep, touch, rm in 4 MB, for every architecture. */
export const DEFAULT_HELPER_IMAGE = 'docker.io/library/busybox:1.36.1';

type Check = (value: unknown, path: string) => SettingsIssue | undefined;

const issue = (path: string, message: string, fix: string): SettingsIssue => ({ path, message, fix });
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

const nonEmptyString: Check = (v, p) => (typeof v === 'string' && v.trim() !== '' ? undefined : issue(p, `must be a non-empty string, not ${shown(v)}`, 'give a name as text'));

const dnsLabel = (what: string): Check => (v, p) =>
  typeof v === 'string' && isDns1123Label(v)
    ? undefined
    : issue(p, `${shown(v)} is not a valid ${what} name`, 'use at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit');

const dnsSubdomain = (what: string): Check => (v, p) =>
  typeof v === 'string' && isDns1123Subdomain(v)
    ? undefined
    : issue(p, `${shown(v)} is not a valid ${what} name`, 'use at most 253 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit');

const wholeNumber = (min: number, max: number, fix: string): Check => (v, p) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? undefined : issue(p, `must be a whole number from ${min} to ${max}, not ${shown(v)}`, fix);

const boolean: Check = (v, p) => (typeof v === 'boolean' ? undefined : issue(p, `must be true or false, not ${shown(v)}`, 'write true or false without quotes'));

const CHECKS: Record<keyof KubernetesSettings, Check> = {
  namespace: dnsLabel('namespace'),
  context: nonEmptyString,
  kubeconfig: nonEmptyString,
  serviceAccount: dnsSubdomain('service account'),
  // Read as the RED validator and the Slurm engine read it (src/red/execution.ts).
  timeLimit: (v, p) => {
    if (typeof v !== 'string') return issue(p, `a time limit is a quoted string, not ${shown(v)}`, 'write "HH:MM:SS" or "D-HH:MM:SS" in quotes, e.g. "02:30:00"');
    const problem = timeLimitProblem(v);
    return problem ? issue(p, problem.message, problem.fix) : undefined;
  },
  ttlSecondsAfterFinished: wholeNumber(0, 2 ** 31 - 1, 'give the seconds a finished Job is kept, e.g. 3600'),
  runAsUser: wholeNumber(0, 2 ** 31 - 1, 'give a numeric user id, e.g. 1000 (Kubernetes takes no user names)'),
  runAsGroup: wholeNumber(0, 2 ** 31 - 1, 'give a numeric group id, e.g. 1000'),
  runAsNonRoot: boolean,
  readOnlyRootFilesystem: boolean,
  inputsClaim: dnsSubdomain('PersistentVolumeClaim'),
  imagePullSecrets: (v, p) => {
    if (!Array.isArray(v)) return issue(p, `must be a list of Secret names, not ${shown(v)}`, 'write e.g. [regcred]');
    const bad = v.findIndex(n => typeof n !== 'string' || !isDns1123Subdomain(n));
    return bad < 0 ? undefined : issue(`${p}.${bad}`, `${shown(v[bad])} is not a valid Secret name`, 'name an existing Secret of type kubernetes.io/dockerconfigjson (lower-case letters, digits, "-", ".")');
  },
  helperImage: nonEmptyString,
  concurrency: wholeNumber(1, 10_000, 'give the most batches that may run at once, e.g. 8')
};

export const SETTINGS_FIELDS = Object.keys(CHECKS) as (keyof KubernetesSettings)[];
/** Settings only the engine's options take: a RED cannot set them (the RED schema has no such fields). */
export const ENGINE_ONLY_FIELDS: readonly (keyof KubernetesSettings)[] = ['runAsGroup', 'runAsNonRoot', 'readOnlyRootFilesystem', 'helperImage'];
/** The fields of a RED's execution.settings (schema/red.schema.json, kubernetesSettings). */
export const RED_SETTINGS_FIELDS = SETTINGS_FIELDS.filter(f => !ENGINE_ONLY_FIELDS.includes(f));

/**
 * Every problem of `raw` (execution.settings as written; undefined: none given), each with its
 * field and fix. `fields`: the settings allowed there (a RED's, by default).
 */
export function checkKubernetesSettings(raw: unknown, at = SETTINGS_PATH, fields: readonly (keyof KubernetesSettings)[] = RED_SETTINGS_FIELDS): SettingsIssue[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw)) return [issue(at, `must be a mapping of settings, not ${shown(raw)}`, `write settings as key: value pairs (${SETTINGS_FIELDS.join(', ')})`)];
  const issues: SettingsIssue[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const check = fields.includes(key as keyof KubernetesSettings) ? CHECKS[key as keyof KubernetesSettings] : undefined;
    if (!check) {
      const near = fields.find(f => f.toLowerCase() === key.toLowerCase().replace(/[-_]/g, ''));
      const engineOnly = ENGINE_ONLY_FIELDS.includes(key as keyof KubernetesSettings);
      issues.push(
        issue(
          `${at}.${key}`,
          engineOnly ? 'is a setting of the bridge\'s kubernetes engine, not of a RED' : 'is not a setting of the kubernetes engine',
          near ? `did you mean ${near}?` : engineOnly ? 'remove it here and give it to the engine (createKubernetesEngine options)' : `remove it; the settings are ${fields.join(', ')}`
        )
      );
      continue;
    }
    const found = check(value, `${at}.${key}`);
    if (found) issues.push(found);
  }
  const s = raw as KubernetesSettings;
  if (s.runAsNonRoot === true && s.runAsUser === 0) {
    issues.push(issue(`${at}.runAsUser`, 'is 0 (root) while runAsNonRoot is true', 'give a non-root user id, or remove runAsNonRoot'));
  }
  return issues;
}

/**
 * The settings a batch runs with: the RED's over the engine's defaults, checked.
 * Throws KubernetesSettingsError naming every bad field.
 */
export function resolveKubernetesSettings(raw: unknown, defaults: KubernetesSettings = {}): KubernetesSettings {
  const fromDefaults = checkKubernetesSettings(defaults, 'kubernetes engine option', SETTINGS_FIELDS);
  const fromRed = checkKubernetesSettings(raw);
  if (fromDefaults.length || fromRed.length) throw new KubernetesSettingsError([...fromDefaults, ...fromRed]);
  return { ...defaults, ...((raw ?? {}) as KubernetesSettings) };
}

/** `execution.settings` of a RED whose execution.engine is kubernetes; undefined otherwise. */
export function redKubernetesSettings(red: { execution?: unknown }): unknown {
  const ex = red.execution as { engine?: unknown; settings?: unknown } | undefined;
  return ex && ex.engine === 'kubernetes' ? ex.settings : undefined;
}
