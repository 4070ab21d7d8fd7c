// A run's record as a Process Run Crate (https://w3id.org/ro/wfrun/process/0.5): the
// JSON-LD of `ro-crate-metadata.json`, built from what the run already measured (never
// hashing anything twice), read back (parseRunCrate) and checked for what the official
// validator does not notice (runCrateProblems). Pure: the CLI and the bridge write the files.
import type { BatchJob, FileRecord, FinalState } from './run';
import type { Gpu } from './bridge-api';
import type { FileOrDirectory, JobValue, Red } from './types';
import { posixJoin } from './paths';
import { sha256Hex } from './sha256';
import { CRATE_FILES, CRATE_METADATA_FILE, type RunCrateInput, type RunCrateOutput, type RunCrateSummary } from './run-crate-types';
export * from './run-crate-types';

export const PROCESS_RUN_CRATE = 'https://w3id.org/ro/wfrun/process/0.5';
export const RO_CRATE_1_1 = 'https://w3id.org/ro/crate/1.1';
/** RED Lab's own terms (the `redlab:` fields of the CreateAction) and tool ids. */
const REDLAB_TERMS = 'https://w3id.org/redlab/terms#';
const REDLAB_TOOLS = 'https://w3id.org/redlab/tools/';
const CWL_V1_0 = 'https://w3id.org/cwl/v1.0/';
const CONTEXT = ['https://w3id.org/ro/crate/1.1/context', 'https://w3id.org/ro/terms/workflow-run/context', { redlab: REDLAB_TERMS }];
const LOCAL_CONNECTOR = 'redlab-connector-local';
const RUN_ID = '#run';
const EXIT_CODE_ID = '#exit-code';
const STATUS: Record<FinalState, string> = {
  succeeded: 'http://schema.org/CompletedActionStatus',
  failed: 'http://schema.org/FailedActionStatus',
  // schema.org has no "cancelled": a cancelled run did not complete; its error says it was cancelled.
  cancelled: 'http://schema.org/FailedActionStatus'
};

/** Who ran it and who publishes the record (REDLAB_AUTHOR, REDLAB_ORCID, REDLAB_AFFILIATION, REDLAB_AFFILIATION_URL). */
export interface CrateAgent {
  name: string;
  /** https://orcid.org/0000-… */
  orcid?: string;
  affiliation?: { name: string; url: string };
}

/** The machine the run ran on, as the record names it. */
export interface CrateMachine {
  hostname?: string;
  os?: string;
  cpuModel?: string;
  cpuCount?: number;
  memoryBytes?: number;
  gpus?: Gpu[];
  gpuDriver?: string;
}

/** What one run (or one batch of a batch RED) was: the same fields as a batch's result. */
export interface CrateRunPart {
  state: FinalState;
  command?: string[];
  exitCode?: number;
  error?: string;
  /** The cluster job that ran it (a Slurm job id, a Kubernetes Job). */
  job?: BatchJob;
  inputs: Record<string, FileRecord | FileRecord[]>;
  /** A folder output's FileRecord lists its files, as its collection hashed them. */
  outputs: Record<string, FileRecord | null>;
}

export interface RunCrateBuildInput {
  /** The RED as written, secrets as {{variables}}; for a batch of a batch RED, that batch's single RED. */
  red: Red;
  run: CrateRunPart;
  image: { url: string; id?: string; digest?: string; pulled?: boolean };
  engine: { name: string; version?: string; isolated?: boolean; note?: string };
  /** The crate's root (the run's output folder), absolute: outputs are named relative to it. */
  outdir: string;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number;
  /** Absolute path of the RED file as run (relative local inputs resolve against its folder). */
  redSource?: string;
  batch?: { index: number; count: number };
  agent: CrateAgent;
  machine?: CrateMachine;
  /** SPDX id or URL. */
  license?: string;
  /** Which of RED Lab's log files were written. */
  logs?: { stdout?: boolean; stderr?: boolean };
  /** A notebook run's notebook as run, copied into the crate (CRATE_FILES.notebook): its input key, sha256 and size. */
  notebookCopy?: { key: string; sha256: string; size: number };
  /** The run's name (a notebook's, a RED file's). */
  name?: string;
  description?: string;
}

type Entity = Record<string, unknown> & { '@id': string; '@type': string | string[] };
export interface RunCrate {
  '@context': unknown;
  '@graph': Entity[];
}

/** `YYYY-MM-DDTHH:MM:SS.mmm+00:00`: the form the validator's RECOMMENDED level takes (not `Z`, not microseconds). */
export function crateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '+00:00');
}

const ref = (id: string) => ({ '@id': id });
/** One value as itself, several as a list (the validator reads a one-item list as several). */
function oneOrMany<T>(xs: T[]): T | T[] {
  return xs.length === 1 ? xs[0] : xs;
}

/** A relative path as a crate @id: each segment %-encoded, a folder with a trailing slash. */
function relId(rel: string, folder = false): string {
  const id = rel.split('/').map(encodeURIComponent).join('/');
  return folder && !id.endsWith('/') ? id + '/' : id;
}

function fileUrl(abs: string, folder = false): string {
  const id = 'file://' + abs.split('/').map(encodeURIComponent).join('/');
  return folder && !id.endsWith('/') ? id + '/' : id;
}

function relativeTo(root: string, p: string): string | undefined {
  const r = root.replace(/\/+$/, '');
  return p.startsWith(r + '/') ? p.slice(r.length + 1) : undefined;
}

const FORMATS: Record<string, string> = {
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  json: 'application/json',
  yml: 'application/yaml',
  yaml: 'application/yaml',
  cwl: 'application/yaml',
  xml: 'application/xml',
  html: 'text/html',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  ipynb: 'application/x-ipynb+json',
  py: 'text/x-python',
  npy: 'application/octet-stream',
  h5: 'application/x-hdf5',
  hdf5: 'application/x-hdf5',
  parquet: 'application/vnd.apache.parquet',
  pt: 'application/octet-stream',
  bin: 'application/octet-stream'
};

/** The media type a file name says, when it says one. */
export function encodingFormatOf(name: string): string | undefined {
  const m = /\.([A-Za-z0-9]+)$/.exec(name);
  return m ? FORMATS[m[1].toLowerCase()] : undefined;
}

/** Where a remote input came from, without user info: a URL when the RED gives one in full. */
function remoteUrl(value: FileOrDirectory): string | undefined {
  const access = (value.connector?.access ?? {}) as Record<string, unknown>;
  const raw = typeof access.url === 'string' ? access.url : undefined;
  let url: string | undefined;
  if (raw && !raw.includes('{{')) url = raw;
  else if (typeof access.host === 'string' && typeof access.path === 'string' && !`${access.host}${access.path}`.includes('{{')) {
    const port = access.port !== undefined ? `:${access.port}` : '';
    url = `sftp://${access.host}${port}${access.path.startsWith('/') ? '' : '/'}${access.path}`;
  } else if (typeof access.bucket === 'string' && typeof access.key === 'string' && !`${access.bucket}${access.key}`.includes('{{')) {
    url = `s3://${access.bucket}/${access.key}`;
  }
  if (!url) return undefined;
  // User info is a credential (or names one): never in the record.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1');
}

function isFileValue(v: unknown): v is FileOrDirectory {
  return !!v && typeof v === 'object' && !Array.isArray(v) && ((v as FileOrDirectory).class === 'File' || (v as FileOrDirectory).class === 'Directory');
}

function inputsOf(red: Red): Record<string, JobValue> {
  return ('inputs' in red && red.inputs ? red.inputs : {}) as Record<string, JobValue>;
}

/** The crate's inputs: one per File/Directory value (list items as key[i]), described from the RED and measured by the run. */
function crateInputs(b: RunCrateBuildInput): RunCrateInput[] {
  const out: RunCrateInput[] = [];
  const baseDir = b.redSource ? b.redSource.replace(/\/[^/]*$/, '') || '/' : undefined;
  for (const [key, value] of Object.entries(inputsOf(b.red))) {
    const items = Array.isArray(value) ? value : [value];
    items.forEach((v, i) => {
      if (!isFileValue(v)) return;
      const name = Array.isArray(value) ? `${key}[${i}]` : key;
      const measured = b.run.inputs[key];
      const rec = Array.isArray(measured) ? measured[i] : measured;
      // Not data entities of the crate (they are not in it): `#` ids, where they came from as `url`.
      const base: RunCrateInput = { key: name, id: `#input-${encodeURIComponent(name)}`, class: v.class, sha256: rec?.sha256 || undefined, size: rec?.size };
      const access = (v.connector?.access ?? {}) as Record<string, unknown>;
      if (v.connector?.command === LOCAL_CONNECTOR && typeof access.path === 'string' && !access.path.includes('{{')) {
        const abs = access.path.startsWith('/') ? posixJoin(access.path) : baseDir ? posixJoin(baseDir, access.path) : undefined;
        if (abs) {
          out.push({ ...base, path: abs });
          return;
        }
      }
      out.push({ ...base, url: remoteUrl(v), connector: v.connector?.command });
    });
  }
  return out;
}

/** Non-file input values (the CWL parameters) as text. */
function parameterValues(red: Red): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const [key, value] of Object.entries(inputsOf(red))) {
    if (isFileValue(value) || (Array.isArray(value) && value.some(isFileValue))) continue;
    out.push({ name: key, value: Array.isArray(value) ? JSON.stringify(value) : String(value) });
  }
  return out;
}

const OCTET_STREAM = 'application/octet-stream';

function crateOutputs(b: RunCrateBuildInput): RunCrateOutput[] {
  const out: RunCrateOutput[] = [];
  for (const [key, rec] of Object.entries(b.run.outputs)) {
    if (!rec) continue;
    if (rec.connector) {
      out.push({ key, path: '', class: rec.class, sha256: rec.sha256, size: rec.size, connector: rec.connector, url: stripUserInfo(rec.path) });
      continue;
    }
    const rel = relativeTo(b.outdir, rec.path);
    if (!rel) continue;
    const files = rec.class === 'Directory' ? (rec.files ?? []).map(f => ({ ...f, path: `${rel}/${f.path}` })) : undefined;
    out.push({ key, path: rel, class: rec.class, sha256: rec.sha256, size: rec.size, encodingFormat: rec.class === 'File' ? (encodingFormatOf(rel) ?? OCTET_STREAM) : undefined, files });
  }
  return out;
}

function stripUserInfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1');
}

function machineProperties(b: RunCrateBuildInput): Entity[] {
  const m = b.machine ?? {};
  const props: [string, string | number | undefined][] = [
    ['engine', b.engine.name],
    ['engineVersion', b.engine.version],
    ['isolated', b.engine.isolated === undefined ? undefined : String(b.engine.isolated)],
    ['schedulerJob', b.run.job ? `${b.run.job.scheduler} job ${b.run.job.id}${b.run.job.node ? ` on ${b.run.job.node}` : ''}` : undefined],
    ['hostname', m.hostname],
    ['operatingSystem', m.os],
    ['cpuModel', m.cpuModel],
    ['cpuCount', m.cpuCount],
    ['memoryBytes', m.memoryBytes],
    ['gpus', m.gpus?.length ? m.gpus.map(g => `${g.index}: ${g.name} (${g.memoryTotalMb} MiB, ${g.uuid})`).join('; ') : undefined],
    ['gpuDriver', m.gpuDriver]
  ];
  return props
    .filter((p): p is [string, string | number] => p[1] !== undefined && p[1] !== '')
    .map(([name, value]) => ({ '@id': `#machine-${name}`, '@type': 'PropertyValue', name, propertyID: `${REDLAB_TERMS}${name}`, value }));
}

/** An image reference's registry, name and tag (Docker's defaults: docker.io, latest). */
function splitImageRef(url: string): { registry: string; name: string; tag?: string } {
  const m = /^(?:(?<registry>[^/]+\.[^/]+|[^/]+:\d+|localhost)\/)?(?<name>[^:@]+)(?::(?<tag>[^@]+))?/.exec(url)?.groups ?? {};
  return { registry: m.registry ?? 'docker.io', name: m.name ?? url, tag: m.tag };
}

/** The image as the record names it: pinned by repo digest, else by image ID (a local build: not pullable). */
function imageEntity(image: RunCrateBuildInput['image']): Entity {
  const repoDigest = image.digest && image.digest.includes('@') ? image.digest : undefined;
  const sha = (repoDigest ?? image.id ?? '').replace(/^.*sha256:/, '');
  const ref_ = splitImageRef(image.url);
  return {
    '@id': repoDigest ? `docker://${repoDigest}` : `#image-${sha || 'unknown'}`,
    '@type': 'ContainerImage',
    additionalType: ref('https://w3id.org/ro/terms/workflow-run#DockerImage'),
    name: ref_.name,
    registry: ref_.registry,
    ...(ref_.tag ? { tag: ref_.tag } : {}),
    ...(sha ? { sha256: sha } : {}),
    description: repoDigest
      ? `${image.url}, pinned by its registry digest ${repoDigest}`
      : `${image.url}, image ID ${image.id ?? 'unknown'}: built or loaded locally, not pullable from a registry`
  };
}

/**
 * The tool the run executed: the RED's CWL CommandLineTool in its image. Its @id is an
 * absolute URI (the profile asks for one) naming the tool by the hash of its CWL text and
 * its image, so the same tool in the same image has the same id in every record.
 */
function toolEntity(b: RunCrateBuildInput, cwlText: string): Entity {
  const base = [b.red.cli.baseCommand ?? ''].flat().join(' ') || 'command';
  const image = splitImageRef(b.image.url);
  const pinned = (b.image.digest && b.image.digest.includes('@') ? b.image.digest : b.image.id ?? '').replace(/^.*sha256:/, '');
  return {
    '@id': `${REDLAB_TOOLS}sha256-${sha256Hex(cwlText + '\n' + pinned)}`,
    '@type': 'SoftwareApplication',
    name: `${base} in ${b.image.url}`,
    description: b.red.cli.doc ?? `the RED's command line tool (${CRATE_FILES.cli}) run in the container image ${b.image.url}`,
    url: image.registry === 'docker.io' ? `https://hub.docker.com/r/${image.name.includes('/') ? image.name : `library/${image.name}`}` : `https://${image.registry}/${image.name}`,
    softwareVersion: image.tag ?? (pinned ? `sha256:${pinned.slice(0, 12)}` : 'latest'),
    subjectOf: ref(CRATE_FILES.cli)
  };
}

/**
 * The crate of one run (or one batch), as JSON-LD. Secrets: the RED given must keep them as
 * {{variables}}, and the caller passes the result through its masker before writing.
 * `cwlText`: the text of CRATE_FILES.cli as written.
 */
export function buildRunCrate(b: RunCrateBuildInput, cwlText = ''): RunCrate {
  const inputs = crateInputs(b);
  const outputs = crateOutputs(b);
  const params = parameterValues(b.red);
  const hasPart: string[] = [];
  const entities: Entity[] = [];

  const agentId = b.agent.orcid ?? '#author';
  const orgId = b.agent.affiliation?.url ?? '#publisher';
  const runName = b.batch ? `batch ${b.batch.index} of ${b.name ?? 'the RED'}` : (b.name ?? 'the RED');
  const tool = toolEntity(b, cwlText);

  // RED Lab's own files: the RED, its CWL tool, the logs.
  entities.push({ '@id': CRATE_FILES.red, '@type': 'File', name: 'RED file (secrets as {{variables}})', encodingFormat: 'application/yaml', ...(b.redSource ? { url: fileUrl(b.redSource) } : {}) });
  entities.push({ '@id': CRATE_FILES.cli, '@type': 'File', name: 'the RED\'s cli as a CWL CommandLineTool', encodingFormat: 'application/yaml', about: ref(tool['@id']), conformsTo: ref(CWL_V1_0) });
  hasPart.push(CRATE_FILES.red, CRATE_FILES.cli);
  for (const stream of ['stdout', 'stderr'] as const) {
    if (!b.logs?.[stream]) continue;
    entities.push({ '@id': CRATE_FILES[stream], '@type': 'File', name: `the container's ${stream} (secrets masked)`, encodingFormat: 'text/plain' });
    hasPart.push(CRATE_FILES[stream]);
  }

  if (b.notebookCopy) {
    const n = b.notebookCopy;
    entities.push({ '@id': CRATE_FILES.notebook, '@type': 'File', name: `the notebook as it was run (input ${n.key})`, encodingFormat: 'application/x-ipynb+json', sha256: n.sha256, contentSize: String(n.size) });
    hasPart.push(CRATE_FILES.notebook);
  }

  // Inputs: described (hash, size, where from), not carried: `#` ids.
  const objectIds: string[] = [];
  for (const i of inputs) {
    const where = i.path ? fileUrl(i.path, i.class === 'Directory') : i.url;
    const format = i.class === 'File' ? (encodingFormatOf(i.path ?? i.url ?? '') ?? OCTET_STREAM) : undefined;
    entities.push({
      '@id': i.id,
      '@type': i.class === 'File' ? 'File' : 'Dataset',
      name: i.key,
      description: i.connector ? `input ${i.key}, received by ${i.connector}` : `input ${i.key}, a local ${i.class === 'File' ? 'file' : 'folder'}`,
      ...(format ? { encodingFormat: format } : {}),
      ...(i.sha256 ? { sha256: i.sha256 } : {}),
      ...(i.size !== undefined ? { contentSize: String(i.size) } : {}),
      ...(where ? { url: where } : {})
    });
    objectIds.push(i.id);
  }
  for (const p of params) {
    const id = `#param-${encodeURIComponent(p.name)}`;
    entities.push({ '@id': id, '@type': 'PropertyValue', name: p.name, value: p.value });
    objectIds.push(id);
  }

  // Outputs: every file with its hash; a folder as a Dataset holding its files.
  const resultIds: string[] = [];
  for (const o of outputs) {
    if (o.connector) {
      const id = `#output-${encodeURIComponent(o.key)}`;
      entities.push({ '@id': id, '@type': o.class === 'File' ? 'File' : 'Dataset', name: o.key, description: `output ${o.key}, sent by ${o.connector}`, sha256: o.sha256, contentSize: String(o.size), ...(o.url ? { url: o.url } : {}) });
      resultIds.push(id);
      continue;
    }
    if (o.class === 'File') {
      const id = relId(o.path);
      entities.push({ '@id': id, '@type': 'File', name: o.key, sha256: o.sha256, contentSize: String(o.size), encodingFormat: o.encodingFormat ?? OCTET_STREAM });
      hasPart.push(id);
      resultIds.push(id);
      continue;
    }
    const id = relId(o.path, true);
    const parts = (o.files ?? []).map(f => {
      const fid = relId(f.path);
      entities.push({ '@id': fid, '@type': 'File', name: f.path.slice(o.path.length + 1), sha256: f.sha256, contentSize: String(f.size), encodingFormat: encodingFormatOf(f.path) ?? OCTET_STREAM });
      return fid;
    });
    entities.push({ '@id': id, '@type': 'Dataset', name: o.key, sha256: o.sha256, contentSize: String(o.size), ...(parts.length ? { hasPart: oneOrMany(parts.map(ref)) } : {}) });
    hasPart.push(id, ...parts);
    resultIds.push(id);
  }

  // The exit code is a result of the process too; and the profile wants a result even of a
  // run that wrote no file (then its logs, else nothing: runCrateProblems says so).
  if (b.run.exitCode !== undefined) {
    entities.push({ '@id': EXIT_CODE_ID, '@type': 'PropertyValue', name: 'exitCode', value: b.run.exitCode });
    resultIds.push(EXIT_CODE_ID);
  }
  if (!resultIds.length) for (const stream of ['stdout', 'stderr'] as const) if (b.logs?.[stream]) resultIds.push(CRATE_FILES[stream]);

  const machine = machineProperties(b);
  const image = imageEntity(b.image);
  const action: Entity = {
    '@id': RUN_ID,
    '@type': 'CreateAction',
    name: `Run of ${runName}`,
    description: b.run.command ? `command: ${b.run.command.join(' ')}` : `run of ${runName}`,
    instrument: ref(tool['@id']),
    agent: ref(agentId),
    startTime: crateTime(b.startedAt),
    endTime: crateTime(b.endedAt),
    actionStatus: STATUS[b.run.state],
    containerImage: ref(image['@id']),
    ...(objectIds.length ? { object: oneOrMany(objectIds.map(ref)) } : {}),
    // The profile wants a result; a run that made nothing has none (its error says why).
    ...(resultIds.length ? { result: oneOrMany(resultIds.map(ref)) } : {}),
    ...(b.run.state !== 'succeeded' ? { error: b.run.error ?? (b.run.state === 'cancelled' ? 'cancelled' : 'failed') } : {}),
    ...(b.run.exitCode !== undefined ? { 'redlab:exitCode': b.run.exitCode } : {}),
    ...(machine.length ? { additionalProperty: oneOrMany(machine.map(m => ref(m['@id']))) } : {}),
    ...(b.batch ? { position: b.batch.index, 'redlab:batchCount': b.batch.count } : {}),
    // RED Lab's own fields, read back by parseRunCrate.
    'redlab:state': b.run.state,
    'redlab:engine': b.engine.name,
    ...(b.engine.version ? { 'redlab:engineVersion': b.engine.version } : {}),
    ...(b.engine.isolated !== undefined ? { 'redlab:isolated': b.engine.isolated } : {}),
    ...(b.run.job ? { 'redlab:jobScheduler': b.run.job.scheduler, 'redlab:jobId': b.run.job.id, ...(b.run.job.node ? { 'redlab:jobNode': b.run.job.node } : {}) } : {}),
    'redlab:imageUrl': b.image.url,
    ...(b.image.id ? { 'redlab:imageId': b.image.id } : {}),
    ...(b.redSource ? { 'redlab:redSource': b.redSource } : {}),
    ...(b.run.command ? { 'redlab:command': JSON.stringify(b.run.command) } : {})
  };

  const person: Entity = { '@id': agentId, '@type': 'Person', name: b.agent.name, affiliation: ref(orgId) };
  const org: Entity = {
    '@id': orgId,
    '@type': 'Organization',
    name: b.agent.affiliation?.name ?? `${b.agent.name}'s organisation (not configured: set REDLAB_AFFILIATION and REDLAB_AFFILIATION_URL)`,
    url: b.agent.affiliation?.url ?? `${REDLAB_TERMS}no-affiliation`
  };
  const licenseId = !b.license ? '#no-license' : /^[a-z][a-z0-9+.-]*:/i.test(b.license) ? b.license : `https://spdx.org/licenses/${b.license}`;
  const license: Entity = b.license
    ? { '@id': licenseId, '@type': 'CreativeWork', name: b.license }
    : { '@id': licenseId, '@type': 'CreativeWork', name: 'No license given', description: 'The run named no license (set REDLAB_LICENSE, e.g. CC-BY-4.0): ask its author before reuse.' };

  const root: Entity = {
    '@id': './',
    '@type': 'Dataset',
    name: `Run record: ${runName}`,
    description: b.description ?? `Process Run Crate of a RED Lab run (${b.run.state}): the RED, its CWL tool, inputs, outputs with sha256, the image, the engine and the machine.`,
    datePublished: crateTime(b.endedAt),
    license: ref(licenseId),
    author: ref(agentId),
    publisher: ref(orgId),
    conformsTo: ref(PROCESS_RUN_CRATE),
    hasPart: oneOrMany(hasPart.map(ref)),
    mentions: ref(RUN_ID)
  };
  const graph: Entity[] = [
    { '@id': CRATE_METADATA_FILE, '@type': 'CreativeWork', conformsTo: ref(RO_CRATE_1_1), about: ref('./') },
    root,
    action,
    tool,
    image,
    ...entities,
    person,
    org,
    license,
    { '@id': PROCESS_RUN_CRATE, '@type': 'CreativeWork', name: 'Process Run Crate', version: '0.5' },
    { '@id': CWL_V1_0, '@type': 'CreativeWork', name: 'Common Workflow Language v1.0', url: 'https://www.commonwl.org/v1.0/' },
    ...machine
  ];
  return { '@context': CONTEXT, '@graph': graph };
}

// ---- reading back ----

const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const idOf = (v: unknown): string | undefined => (v && typeof v === 'object' && typeof (v as { '@id'?: unknown })['@id'] === 'string' ? (v as { '@id': string })['@id'] : typeof v === 'string' ? v : undefined);
const typesOf = (e: Record<string, unknown> | undefined): string[] => asList(e?.['@type']).filter((t): t is string => typeof t === 'string');

export class RunCrateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunCrateError';
  }
}

/** Reads RED Lab's summary of a crate (parsed JSON); throws RunCrateError naming what is missing. */
export function parseRunCrate(doc: unknown): RunCrateSummary {
  const graph = (doc as RunCrate | undefined)?.['@graph'];
  if (!Array.isArray(graph)) throw new RunCrateError(`${CRATE_METADATA_FILE} has no @graph: not an RO-Crate`);
  const byId = new Map<string, Record<string, unknown>>();
  for (const e of graph) if (e && typeof e === 'object' && typeof e['@id'] === 'string') byId.set(e['@id'], e);
  const root = byId.get('./');
  const action = byId.get(idOf(root?.mentions) ?? RUN_ID) ?? graph.find(e => typesOf(e).includes('CreateAction'));
  if (!action || !typesOf(action).includes('CreateAction')) throw new RunCrateError('the crate has no CreateAction: not a Process Run Crate');
  const state = action['redlab:state'] as FinalState | undefined;
  if (state !== 'succeeded' && state !== 'failed' && state !== 'cancelled') throw new RunCrateError('the crate was not written by RED Lab (its CreateAction has no redlab:state)');
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' && !isNaN(Number(v)) ? Number(v) : undefined);
  const entityOf = (v: unknown) => byId.get(idOf(v) ?? '') ?? {};

  const inputs: RunCrateInput[] = [];
  const parameters: { name: string; value: string }[] = [];
  for (const o of asList(action.object)) {
    const id = idOf(o) ?? '';
    const e = entityOf(o);
    if (typesOf(e).includes('PropertyValue')) {
      parameters.push({ name: String(e.name), value: String(e.value) });
      continue;
    }
    const url = str(e.url);
    const local = url?.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)).replace(/(.)\/$/, '$1') : undefined;
    const connector = /received by (\S+)$/.exec(str(e.description) ?? '')?.[1];
    inputs.push({
      key: String(e.name ?? id),
      id,
      class: typesOf(e).includes('Dataset') ? 'Directory' : 'File',
      ...(local ? { path: local } : { url, connector }),
      sha256: str(e.sha256),
      size: num(e.contentSize)
    });
  }
  const ownFiles = new Set<string>(Object.values(CRATE_FILES));
  const outputs: RunCrateOutput[] = asList(action.result)
    .filter(r => !typesOf(entityOf(r)).includes('PropertyValue') && !ownFiles.has(idOf(r) ?? ''))
    .map(r => {
    const id = idOf(r) ?? '';
    const e = entityOf(r);
    const cls = typesOf(e).includes('Dataset') ? 'Directory' : 'File';
    const connector = /sent by (\S+)$/.exec(str(e.description) ?? '')?.[1];
    if (connector) return { key: String(e.name), path: '', class: cls, sha256: str(e.sha256) ?? '', size: num(e.contentSize) ?? 0, connector, url: str(e.url) };
    const path = decodeURIComponent(id).replace(/\/$/, '');
    const files = cls === 'Directory'
      ? asList(e.hasPart).map(p => {
          const f = entityOf(p);
          return { path: decodeURIComponent(idOf(p) ?? ''), sha256: str(f.sha256) ?? '', size: num(f.contentSize) ?? 0 };
        })
      : undefined;
    return { key: String(e.name), path, class: cls, sha256: str(e.sha256) ?? '', size: num(e.contentSize) ?? 0, encodingFormat: str(e.encodingFormat), files };
  });
  const imageId = idOf(action.containerImage);
  const digest = imageId?.startsWith('docker://') ? imageId.slice('docker://'.length) : undefined;
  const hasPart = new Set(asList(root?.hasPart).map(idOf));
  const author = byId.get(idOf(root?.author) ?? '');
  const licenseId = idOf(root?.license);
  const command = str(action['redlab:command']);
  const batchCount = num(action['redlab:batchCount']);
  const ipynbIn = inputs.find(i => /\.ipynb$/.test(i.path ?? i.url ?? ''));
  const ipynbOut = outputs.find(o => /\.ipynb$/.test(o.path));
  return {
    state,
    exitCode: num(action['redlab:exitCode']),
    error: str(action.error),
    startTime: str(action.startTime) ?? '',
    endTime: str(action.endTime) ?? '',
    redFile: CRATE_FILES.red,
    cliFile: CRATE_FILES.cli,
    redSource: str(action['redlab:redSource']),
    ...(batchCount !== undefined ? { batch: { index: num(action.position) ?? 0, count: batchCount } } : {}),
    image: { url: str(action['redlab:imageUrl']) ?? '', id: str(action['redlab:imageId']), digest, pullable: !!digest },
    engine: { name: str(action['redlab:engine']) ?? 'docker', version: str(action['redlab:engineVersion']), isolated: action['redlab:isolated'] as boolean | undefined },
    ...(str(action['redlab:jobId']) ? { job: { scheduler: str(action['redlab:jobScheduler']) ?? '', id: str(action['redlab:jobId']) as string, node: str(action['redlab:jobNode']) } } : {}),
    command: command ? (JSON.parse(command) as string[]) : undefined,
    inputs,
    outputs,
    parameters,
    logs: {
      ...(hasPart.has(CRATE_FILES.stdout) ? { stdout: CRATE_FILES.stdout } : {}),
      ...(hasPart.has(CRATE_FILES.stderr) ? { stderr: CRATE_FILES.stderr } : {})
    },
    ...(ipynbIn || ipynbOut ? { notebook: { source: hasPart.has(CRATE_FILES.notebook) ? CRATE_FILES.notebook : (ipynbIn?.path ?? ipynbIn?.url), executed: ipynbOut?.path } } : {}),
    license: licenseId && licenseId !== '#no-license' ? licenseId : undefined,
    name: str(root?.name),
    description: str(root?.description),
    author: author ? { name: String(author.name), ...((idOf(author) ?? '').startsWith('https://orcid.org/') ? { orcid: idOf(author) } : {}) } : undefined
  };
}

/** What the validator's RECOMMENDED level takes: seconds or exactly milliseconds, a positive offset (UTC as +00:00). */
const CRATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?\+\d{2}:\d{2}$/;

/**
 * What RED Lab demands of its own crates beyond the official validator (which, for one,
 * does not notice an output missing from `result` when another is listed): a list of
 * problems in words, empty when the crate is whole. `expectedOutputs`: the run's output
 * paths (relative to the crate root) that must be in `result`.
 */
export function runCrateProblems(doc: unknown, expectedOutputs: string[] = []): string[] {
  const problems: string[] = [];
  const graph = (doc as RunCrate | undefined)?.['@graph'];
  if (!Array.isArray(graph)) return ['no @graph'];
  const byId = new Map<string, Record<string, unknown>>();
  for (const e of graph) if (e && typeof e === 'object' && typeof e['@id'] === 'string') byId.set(e['@id'], e);
  const root = byId.get('./');
  if (!root) problems.push('no root dataset ./');
  const actions = graph.filter(e => typesOf(e).includes('CreateAction'));
  if (actions.length === 0) problems.push('no CreateAction');
  const hasPart = new Set(asList(root?.hasPart).map(idOf));
  for (const a of actions) {
    const where = `CreateAction ${a['@id']}`;
    const tool = byId.get(idOf(a.instrument) ?? '');
    if (!a.instrument) problems.push(`${where} has no instrument`);
    else if (!tool) problems.push(`${where}: its instrument ${idOf(a.instrument)} is not in the crate`);
    else if (!typesOf(tool).some(t => ['SoftwareApplication', 'SoftwareSourceCode', 'ComputationalWorkflow'].includes(t))) problems.push(`${where}: its instrument is not a SoftwareApplication`);
    for (const f of ['startTime', 'endTime'] as const) {
      if (typeof a[f] !== 'string') problems.push(`${where} has no ${f}`);
      else if (!CRATE_TIME.test(a[f] as string) || isNaN(Date.parse(a[f] as string))) problems.push(`${where}: ${f} ${a[f]} is not YYYY-MM-DDTHH:MM:SS.mmm+HH:MM`);
    }
    if (typeof a.startTime === 'string' && typeof a.endTime === 'string' && Date.parse(a.endTime) < Date.parse(a.startTime)) problems.push(`${where} ends before it starts`);
    // A plain string, not {"@id": …}: the profile's shape lists the two strings.
    const status = typeof a.actionStatus === 'string' ? a.actionStatus : undefined;
    if (!status || !Object.values(STATUS).includes(status)) problems.push(`${where}: actionStatus ${JSON.stringify(a.actionStatus)} is not schema.org's Completed/FailedActionStatus as a string`);
    if (status === STATUS.failed && !a.error) problems.push(`${where} failed but has no error`);
    const results = new Set(asList(a.result).map(idOf));
    if (!results.size) problems.push(`${where} has no result (the profile wants one: an output, the exit code or the logs)`);
    for (const p of expectedOutputs) {
      if (!results.has(relId(p)) && !results.has(relId(p, true))) problems.push(`${where}: output ${p} is missing from result`);
    }
    for (const o of [...asList(a.object).map(idOf), ...results]) {
      if (!o) continue;
      if (!byId.has(o)) problems.push(`${where}: ${o} is not described in the crate`);
      // A relative id is a file of the crate: the root must list it.
      else if (!/^[a-z][a-z0-9+.-]*:|^#/i.test(o) && !hasPart.has(o)) problems.push(`${where}: ${o} is not in the root's hasPart`);
    }
    for (const r of results) {
      const e = byId.get(r ?? '');
      if (e && typesOf(e).includes('File') && !r?.startsWith('#') && !/^[a-z]+:/i.test(r ?? '') && !e.sha256) problems.push(`${where}: output ${r} has no sha256`);
    }
  }
  for (const e of graph) {
    const id = String(e['@id']);
    if (typesOf(e).includes('File') && !/^[a-z][a-z0-9+.-]*:|^#/i.test(id) && !/^[\w.+-]+\/[\w.+-]+$/.test(String(e.encodingFormat ?? ''))) problems.push(`the file ${id} has no media type (encodingFormat)`);
  }
  return problems;
}
