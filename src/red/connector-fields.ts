// The access fields of each connector RED Lab knows, one description for the panel (which
// fields to show, which are secrets), the checks of a RED's access objects and the docs.
// Field names are Curious Containers' own (red-connector-ssh: host, port, auth.username,
// filePath / dirPath, …) so that existing RED files round-trip. Secrets (passwords,
// passphrases, private keys, secret keys) are written as {{variables}}: their values are
// asked for at launch and never saved. Pure.

export type ConnectorClass = 'File' | 'Directory';
export type ConnectorDirection = 'receive' | 'send';

export interface ConnectorField {
  /** Dotted path in connector.access, e.g. `auth.password`. */
  path: string;
  label: string;
  type: 'text' | 'number' | 'multiline' | 'boolean';
  /** Allowed values of a text field (a select in the panel). */
  choices?: readonly string[];
  /** A URL field's allowed schemes (`http`, `https`). */
  schemes?: readonly string[];
  required?: boolean;
  default?: string | number | boolean;
  /** A credential: always a {{variable}}, never a value in the RED or the notebook. */
  secret?: boolean;
  /** Only for these classes (filePath: File, dirPath: Directory); absent: all. */
  classes?: readonly ConnectorClass[];
  /** Only for this direction (writable: mounted inputs); absent: both. */
  direction?: ConnectorDirection;
  /** Only for an input that is mounted (`mount: true`), e.g. `writable`. */
  mountedOnly?: boolean;
  help: string;
}

export interface ConnectorSpec {
  command: string;
  /** How the panel names it (`SFTP (SSH)`). */
  label: string;
  receives: readonly ConnectorClass[];
  sends: readonly ConnectorClass[];
  /** Its Directory inputs can be mounted (`mount: true`) where the engine can (capability mountConnectors). */
  mountable?: boolean;
  fields: readonly ConnectorField[];
  /** Groups of paths of which at least one must be given (SSH: a password or a private key). */
  oneOf?: readonly (readonly string[])[];
  /** Groups of paths given all together or not at all (HTTP: a login's user and password). */
  together?: readonly (readonly string[])[];
}

export const LOCAL_CONNECTOR_COMMAND = 'redlab-connector-local';
export const HTTP_CONNECTOR_COMMAND = 'red-connector-http';
export const SSH_CONNECTOR_COMMAND = 'red-connector-ssh';
export const FTP_CONNECTOR_COMMAND = 'red-connector-ftp';
export const S3_CONNECTOR_COMMAND = 'redlab-connector-s3';
export const HTTP_ARCHIVE_CONNECTOR_COMMAND = 'red-connector-http-archive';
export const HTTP_JSON_CONNECTOR_COMMAND = 'red-connector-http-json';

const FILE: readonly ConnectorClass[] = ['File'];
const DIR: readonly ConnectorClass[] = ['Directory'];
const BOTH: readonly ConnectorClass[] = ['File', 'Directory'];

const username = (help: string, required = true): ConnectorField => ({ path: 'auth.username', label: 'user', type: 'text', ...(required ? { required } : {}), help });
const password = (help: string, required = false): ConnectorField => ({ path: 'auth.password', label: 'password', type: 'text', secret: true, ...(required ? { required } : {}), help });

/** red-connector-http's fields (its -archive and -json variants share them); `url`'s help says what the URL gives. */
const httpFields = (urlHelp: string): ConnectorField[] => [
  { path: 'url', label: 'URL', type: 'text', required: true, schemes: ['http', 'https'], help: urlHelp },
  { path: 'method', label: 'method', type: 'text', choices: ['GET', 'PUT', 'POST'], help: 'GET to receive (the default), PUT or POST (the default) to send' },
  username('The login name, if the server needs one', false),
  password('Its password, as a {{variable}}'),
  { path: 'auth.method', label: 'login method', type: 'text', choices: ['basic', 'digest'], help: 'basic (the default) or digest' },
  { path: 'disableSSLVerification', label: 'skip TLS check', type: 'boolean', help: 'Accept a server whose certificate cannot be verified (only for servers you trust)' }
];
const HTTP_LOGIN: readonly (readonly string[])[] = [['auth.username', 'auth.password']];

export const CONNECTOR_SPECS: readonly ConnectorSpec[] = [
  {
    command: LOCAL_CONNECTOR_COMMAND,
    label: 'local file path',
    receives: BOTH,
    sends: [],
    fields: [{ path: 'path', label: 'path', type: 'text', required: true, help: "A file or folder on the bridge's machine, relative to the notebook's (RED file's) folder, or absolute" }]
  },
  {
    command: HTTP_CONNECTOR_COMMAND,
    label: 'HTTP URL',
    receives: BOTH,
    sends: FILE,
    mountable: true,
    fields: httpFields('http:// or https://; a Directory fetches each file of its listing from URL/<path> (or, mounted, the server\'s index pages)'),
    together: HTTP_LOGIN
  },
  {
    command: HTTP_ARCHIVE_CONNECTOR_COMMAND,
    label: 'HTTP archive (unpacked)',
    receives: DIR,
    sends: [],
    fields: [
      ...httpFields('http:// or https:// URL of a zip or tar archive: the folder is what it holds'),
      { path: 'archiveFormat', label: 'archive format', type: 'text', required: true, choices: ['zip', 'tar', 'gztar', 'bztar', 'xztar'], help: 'zip, tar, gztar (.tar.gz), bztar (.tar.bz2) or xztar (.tar.xz)' }
    ],
    together: HTTP_LOGIN
  },
  {
    command: HTTP_JSON_CONNECTOR_COMMAND,
    label: 'HTTP JSON document',
    receives: FILE,
    sends: FILE,
    fields: httpFields('http:// or https:// URL of a JSON document (received) or where the JSON file is sent'),
    together: HTTP_LOGIN
  },
  {
    command: SSH_CONNECTOR_COMMAND,
    label: 'SFTP (SSH)',
    receives: BOTH,
    sends: BOTH,
    mountable: true,
    fields: [
      { path: 'host', label: 'host', type: 'text', required: true, help: "The SSH server's name or address; its host key must be in ~/.ssh/known_hosts" },
      { path: 'port', label: 'port', type: 'number', default: 22, help: "The SSH server's port (22 unless it says otherwise)" },
      username('The SSH login name'),
      password('Its password, as a {{variable}} (or give a private key)'),
      { path: 'auth.privateKey', label: 'private key', type: 'multiline', secret: true, help: 'The private key (PEM text), as a {{variable}}, instead of a password' },
      { path: 'auth.passphrase', label: 'key passphrase', type: 'text', secret: true, help: "The private key's passphrase, as a {{variable}}, if it has one" },
      { path: 'filePath', label: 'remote file', type: 'text', required: true, classes: FILE, help: 'The path of the file on the server (absolute, or relative to the login folder)' },
      { path: 'dirPath', label: 'remote folder', type: 'text', required: true, classes: DIR, help: 'The path of the folder on the server (absolute, or relative to the login folder)' },
      { path: 'timeout', label: 'timeout (s)', type: 'number', help: 'Seconds to wait for the server to answer before giving up' },
      { path: 'writable', label: 'writable mount', type: 'boolean', classes: DIR, direction: 'receive', mountedOnly: true, help: 'The container may write into the mounted folder: what it writes goes to the server' }
    ],
    oneOf: [['auth.password', 'auth.privateKey']]
  },
  {
    command: FTP_CONNECTOR_COMMAND,
    label: 'FTP',
    receives: BOTH,
    sends: BOTH,
    fields: [
      { path: 'url', label: 'URL', type: 'text', required: true, schemes: ['ftp', 'ftps'], help: 'ftp://host/path/to/file (or folder; ftps:// for TLS); the path is relative to the login folder' },
      { path: 'port', label: 'port', type: 'number', help: "The FTP server's port (21 unless it says otherwise)" },
      username('The FTP login name (none: anonymous)', false),
      password('Its password, as a {{variable}}')
    ]
  },
  {
    command: S3_CONNECTOR_COMMAND,
    label: 'S3 bucket',
    receives: BOTH,
    sends: BOTH,
    fields: [
      { path: 'endpoint', label: 'endpoint', type: 'text', help: 'The S3 server, e.g. https://s3.example.org (empty: AWS)' },
      { path: 'bucket', label: 'bucket', type: 'text', required: true, help: "The bucket's name" },
      { path: 'key', label: 'key', type: 'text', required: true, classes: FILE, help: "The object's key, e.g. data/train.csv" },
      { path: 'prefix', label: 'prefix', type: 'text', required: true, classes: DIR, help: 'The key prefix of the folder, e.g. data/tiles/' },
      { path: 'region', label: 'region', type: 'text', help: 'e.g. eu-central-1 (empty: us-east-1)' },
      { path: 'auth.accessKeyId', label: 'access key id', type: 'text', required: true, help: 'The access key id (a name, or a {{variable}})' },
      { path: 'auth.secretAccessKey', label: 'secret access key', type: 'text', secret: true, required: true, help: 'The secret access key, as a {{variable}}' },
      { path: 'forcePathStyle', label: 'path-style URLs', type: 'boolean', help: 'host/bucket/key rather than bucket.host/key (the default with an endpoint; AWS: off)' },
      { path: 'timeout', label: 'timeout (s)', type: 'number', help: 'Seconds to wait for the server to connect or answer before giving up (30)' }
    ]
  }
];

/** The description of `command`; undefined for a connector RED Lab does not know (e.g. a CC connector image's). */
export function connectorSpec(command: string): ConnectorSpec | undefined {
  return CONNECTOR_SPECS.find(s => s.command === command);
}

/**
 * The fields of `command` for a `cls` value that is received or sent (`mounted`: an input with
 * `mount: true`, which alone has the mount's fields); [] for an unknown connector.
 */
export function connectorFields(command: string, cls: ConnectorClass, direction: ConnectorDirection, mounted = false): ConnectorField[] {
  const spec = connectorSpec(command);
  if (!spec) return [];
  return spec.fields.filter(f => (!f.classes || f.classes.includes(cls)) && (!f.direction || f.direction === direction) && (!f.mountedOnly || mounted));
}

/** Whether a `cls` input of `command` can be mounted on an engine that mounts `engineMounts` (its capability mountConnectors). */
export function canMount(command: string, cls: ConnectorClass, engineMounts: readonly string[] | undefined): boolean {
  return cls === 'Directory' && !!connectorSpec(command)?.mountable && !!engineMounts?.includes(command);
}

/** Whether `command` can receive (inputs) or send (outputs) a `cls`; unknown connectors: false. */
export function connectorHandles(command: string, cls: ConnectorClass, direction: ConnectorDirection): boolean {
  const spec = connectorSpec(command);
  return !!spec && (direction === 'receive' ? spec.receives : spec.sends).includes(cls);
}

/**
 * The connectors to offer for a `cls` input (receive) or output (send): those the engine has
 * (`available`, from its capabilities), in the engine's order; those RED Lab knows that cannot
 * handle `cls` are left out, unknown ones (connector images) kept.
 */
export function offeredConnectors(available: readonly string[], cls: ConnectorClass, direction: ConnectorDirection): string[] {
  return available.filter(c => !connectorSpec(c) || connectorHandles(c, cls, direction));
}

/** The value at a dotted `path` of an access object. */
export function accessValue(access: Record<string, unknown> | undefined, path: string): unknown {
  let at: unknown = access;
  for (const part of path.split('.')) {
    if (!at || typeof at !== 'object' || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** A copy of `access` with `value` at `path` (undefined: removed, and an object left empty by that too). */
export function withAccessValue(access: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  const out = { ...access };
  if (!rest.length) {
    if (value === undefined) delete out[head];
    else out[head] = value;
    return out;
  }
  const inner = out[head] && typeof out[head] === 'object' && !Array.isArray(out[head]) ? (out[head] as Record<string, unknown>) : {};
  const next = withAccessValue(inner, rest.join('.'), value);
  if (Object.keys(next).length) out[head] = next;
  else delete out[head];
  return out;
}

/** Whether a value is one `{{variable}}` reference. */
export function isVariableReference(v: unknown): boolean {
  return typeof v === 'string' && /^\{\{[^{}]+\}\}$/.test(v.trim());
}

/** The {{variable}} a secret field of `owner` (an input or output name) gets: `sftp` + `auth.password` → `sftp_password`. */
export function secretVariableName(owner: string, path: string): string {
  const last = path.split('.').pop() ?? path;
  const snake = last.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  return `${owner}_${snake}`.replace(/[^A-Za-z0-9_]/g, '_');
}

/**
 * A new access object for `command`: the defaults, and each secret field given as its
 * {{variable}} (its value asked for at launch). Unknown connectors: {}.
 */
export function defaultAccess(command: string, cls: ConnectorClass, direction: ConnectorDirection, owner: string): Record<string, unknown> {
  let access: Record<string, unknown> = {};
  for (const f of connectorFields(command, cls, direction)) {
    if (f.default !== undefined) access = withAccessValue(access, f.path, f.default);
    else if (f.type !== 'boolean' && f.type !== 'number' && !f.secret && f.required) access = withAccessValue(access, f.path, '');
  }
  const spec = connectorSpec(command);
  // Secrets of the first choice of each group (SSH: the password) and required ones.
  const firstOfGroups = new Set((spec?.oneOf ?? []).map(g => g[0]));
  for (const f of connectorFields(command, cls, direction)) {
    if (f.secret && (f.required || firstOfGroups.has(f.path))) access = withAccessValue(access, f.path, `{{${secretVariableName(owner, f.path)}}}`);
  }
  return access;
}

export interface AccessProblem {
  /** The field's dotted path in connector.access. */
  path: string;
  message: string;
  fix?: string;
}

/**
 * What is wrong with `access` for `command` (a known one): required fields left empty, numbers
 * that are not, choices not among those allowed, secrets written as values, a missing login.
 * Messages name the field by its access path; a {{variable}} stands for any value. `mounted`: an
 * input with `mount: true` (its mount's fields are checked too).
 */
export function accessProblems(command: string, cls: ConnectorClass, direction: ConnectorDirection, access: Record<string, unknown>, owner: string, mounted = false): AccessProblem[] {
  const spec = connectorSpec(command);
  if (!spec) {
    // A connector image's: only its secrets are known, by their keys.
    return secretLiteralPaths(access).map(path => ({ path, message: `${command}: access.${path} must be a {{variable}}: its value is asked for at launch and never saved`, fix: `write {{${secretVariableName(owner, path)}}}` }));
  }
  const problems: AccessProblem[] = [];
  const fields = connectorFields(command, cls, direction, mounted);
  const empty = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && !v.trim());
  for (const f of fields) {
    const v = accessValue(access, f.path);
    const name = `${f.label} (access.${f.path})`;
    if (empty(v)) {
      if (f.required) problems.push({ path: f.path, message: `${spec.label}: ${name} is needed`, fix: f.secret ? `write it as {{${secretVariableName(owner, f.path)}}}` : f.help });
      continue;
    }
    if (f.secret) {
      if (!isVariableReference(v)) problems.push({ path: f.path, message: `${spec.label}: ${name} must be a {{variable}}: its value is asked for at launch and never saved`, fix: `write {{${secretVariableName(owner, f.path)}}}` });
      continue;
    }
    if (isVariableReference(v)) continue;
    if (f.type === 'number' && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) problems.push({ path: f.path, message: `${spec.label}: ${name} must be a positive number, not ${JSON.stringify(v)}`, fix: f.default !== undefined ? `e.g. ${f.default}` : undefined });
    else if (f.type === 'boolean' && typeof v !== 'boolean') problems.push({ path: f.path, message: `${spec.label}: ${name} must be true or false, not ${JSON.stringify(v)}` });
    else if (f.choices && !f.choices.includes(String(v))) problems.push({ path: f.path, message: `${spec.label}: ${name} must be one of ${f.choices.join(', ')}, not ${JSON.stringify(v)}` });
    else if ((f.type === 'text' || f.type === 'multiline') && typeof v !== 'string') problems.push({ path: f.path, message: `${spec.label}: ${name} must be text, not ${JSON.stringify(v)}` });
    else if (f.schemes && typeof v === 'string' && !v.includes('{{') && !f.schemes.some(s => v.trim().toLowerCase().startsWith(`${s}://`))) {
      problems.push({ path: f.path, message: `${spec.label}: ${name} must start with ${f.schemes.map(s => `${s}://`).join(' or ')}` });
    }
  }
  for (const f of fields.filter(x => x.path === 'url')) {
    const v = accessValue(access, f.path);
    const pw = typeof v === 'string' ? urlPassword(v) : undefined;
    if (pw !== undefined && !isVariableReference(pw)) {
      problems.push({ path: f.path, message: `${spec.label}: ${f.label} (access.${f.path}) holds a password: it would be saved`, fix: `write it as {{${secretVariableName(owner, 'auth.password')}}} in the URL, or leave it out and use auth.password` });
    }
  }
  for (const group of spec.oneOf ?? []) {
    const inGroup = fields.filter(f => group.includes(f.path));
    if (inGroup.length && inGroup.every(f => empty(accessValue(access, f.path)))) {
      problems.push({
        path: group[0],
        message: `${spec.label}: a login needs ${inGroup.map(f => `${f.label} (access.${f.path})`).join(' or ')}`,
        fix: `e.g. {{${secretVariableName(owner, group[0])}}}`
      });
    }
  }
  for (const group of spec.together ?? []) {
    const inGroup = fields.filter(f => group.includes(f.path));
    const given = inGroup.filter(f => !empty(accessValue(access, f.path)));
    if (given.length && given.length < inGroup.length) {
      for (const f of inGroup.filter(x => !given.includes(x))) {
        problems.push({ path: f.path, message: `${spec.label}: ${f.label} (access.${f.path}) is needed with ${given.map(g => `access.${g.path}`).join(', ')}`, fix: f.secret ? `write {{${secretVariableName(owner, f.path)}}}` : f.help });
      }
    }
  }
  return problems;
}

/**
 * `access` with every secret field that holds a value (not a {{variable}}) replaced by its
 * {{variable}}: what may be kept where it is saved (the notebook's metadata). Unknown connectors:
 * as it is.
 */
export function withSecretsAsVariables(command: string, access: Record<string, unknown>, owner: string): Record<string, unknown> {
  const spec = connectorSpec(command);
  if (!spec) return secretLiteralPaths(access).reduce((a, path) => withAccessValue(a, path, `{{${secretVariableName(owner, path)}}}`), access);
  let out = access;
  for (const f of spec.fields.filter(x => x.path === 'url')) {
    const v = accessValue(out, f.path);
    const pw = typeof v === 'string' ? urlPassword(v) : undefined;
    if (pw !== undefined && !isVariableReference(pw)) out = withAccessValue(out, f.path, (v as string).replace(USER_INFO, (_m, scheme, user) => `${scheme}${user}:{{${secretVariableName(owner, 'auth.password')}}}@`));
  }
  for (const f of spec.fields) {
    if (!f.secret) continue;
    const v = accessValue(out, f.path);
    if (v !== undefined && v !== '' && !isVariableReference(v)) out = withAccessValue(out, f.path, `{{${secretVariableName(owner, f.path)}}}`);
  }
  return out;
}

/** The last keys of every secret field (password, privateKey, passphrase, secretAccessKey). */
export const SECRET_ACCESS_KEYS: readonly string[] = [...new Set(CONNECTOR_SPECS.flatMap(s => s.fields.filter(f => f.secret).map(f => f.path.split('.').pop()!)))];

/** Whether a {{variable}} used at these dotted RED paths holds a secret of a connector's access (asked for hidden). */
export function isSecretAccessUse(paths: readonly string[]): boolean {
  return paths.some(p => p.includes('.access.') && SECRET_ACCESS_KEYS.includes(p.split('.').pop()!));
}

/** Whether a {{variable}} used at these dotted RED paths holds text of several lines (a private key). */
export function isMultilineAccessUse(paths: readonly string[]): boolean {
  const multiline = new Set(CONNECTOR_SPECS.flatMap(s => s.fields.filter(f => f.type === 'multiline').map(f => f.path.split('.').pop()!)));
  return paths.some(p => p.includes('.access.') && multiline.has(p.split('.').pop()!));
}

/** scheme://user:password@ — the user info of a URL with a password in it. */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/@:]*):([^/@]*)@/i;

/** The password in a URL's user info (`ftp://ann:pw@host/`), if it has one. */
function urlPassword(url: string): string | undefined {
  const m = USER_INFO.exec(url.trim());
  return m ? m[3] : undefined;
}

/** Keys whose values are secret in any connector's access: Curious Containers' protected ones and the table's. */
function isSecretKeyName(key: string): boolean {
  return key === 'password' || key === 'privateKey' || key.startsWith('_') || SECRET_ACCESS_KEYS.includes(key);
}

/** Dotted paths of the values (not {{variables}}) below secret keys of an access object (a connector image's, whose fields are not known). */
function secretLiteralPaths(access: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(access ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (isSecretKeyName(k)) {
      if (v !== undefined && v !== null && v !== '' && !isVariableReference(v)) out.push(path);
    } else if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...secretLiteralPaths(v as Record<string, unknown>, path));
  }
  return out;
}
