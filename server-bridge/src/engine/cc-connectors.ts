// Curious Containers connector images: a connector `command` that is not built in is
// run as CC runs it, by the RED Connector CLI 1 protocol, inside the experiment's own
// image (the xnat, semcon and custom connectors users already baked into their images).
// CC runs the connector in the experiment container itself; RED Lab runs each call in a
// short-lived helper container of that image, hardened as a run's container
// (host-config.ts), so that the experiment container never holds a connector's secrets
// or its network transfers:
//   1. `COMMAND cli-version` must print the one line `1`;
//   2. every input's receive-file-validate / receive-dir-validate and every output's
//      send-file-validate / send-dir-validate, before any transfer (validateConnectors);
//   3. receive-file ACCESS LOCALFILE / receive-dir ACCESS LOCALDIR [--listing=LISTING]
//      into the input's holder folder on the host, bound read-write;
//   4. after the command succeeded, send-file ACCESS LOCALFILE / send-dir ACCESS LOCALDIR
//      with the output bound read-only.
// ACCESS and LISTING are JSON files in a folder made for one call and removed after it,
// bound read-only; they are never logged. Exit code 0 is success; otherwise the error is
// the connector's stderr, else its stdout (as CC's agent says it). `mount: true` would need
// SYS_ADMIN and /dev/fuse in the container: refused, with receive-dir offered instead.
import type Docker from 'dockerode';
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'fs/promises';
import * as path from 'path';
import type { FileOrDirectory, ListingEntry } from '../../../src/red';
import type { BatchPlan } from './batch';
import type { ConnectorFallback, ConnectorRegistry } from '../connectors/registry';
import { ConnectorError, type ConnectorContext, type InputConnector, type InputStageRequest, type OutputConnector, type OutputSendRequest, type StagedInput } from '../connectors/types';
import { bindSpec, buildHostConfig, type BindMount } from './host-config';
import { runContainer } from './container';

/** The connector CLI version RED Lab speaks (RED Connector CLI 1, as CC from RED 8 on). */
export const CC_CONNECTOR_CLI_VERSION = '1';
/** Label of helper containers (never org.redlab.managed: recovery must not take one for a batch's container). */
export const LABEL_CONNECTOR = 'org.redlab.connector';
/** Where a call's ACCESS/LISTING files are in the helper container. */
const SECRETS_IN_CONTAINER = '/cc/connector';
/** Most bytes of a helper's stdout/stderr kept for messages. */
const OUTPUT_CAP = 64 * 1024;

/** The experiment's image on a Docker engine of this host: what helper containers are made from. */
export interface ExperimentImage {
  docker: Docker;
  /** Image ID (or reference) the batch runs. */
  image: string;
  /** The RED's container.settings.image.url, for messages. */
  imageUrl: string;
  /** `uid:gid` of the batch's container; undefined: the image's user. */
  user?: string;
  /** The batch's RAM limit (MB; null: none) and process limit, as for its container. */
  ramMb?: number | null;
  pidsLimit?: number;
  /** Labels of the run's containers (tests find theirs by these). */
  labels?: Record<string, string>;
  /** A folder on the host no container and no other user can reach (the batch's work folder, below a 0700 run folder): ACCESS files are made below it, one call at a time. */
  privateDir: string;
}

interface HelperResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What `[command, ...args]` would be called in messages (no file contents). */
const callText = (argv: string[]) => argv.join(' ');

/** A connector command must be one program name or path: it runs without a shell. */
function checkCommand(command: unknown, where: string): string {
  if (typeof command !== 'string' || !command.trim() || /[\0-\x1f\x7f]/.test(command) || command !== command.trim()) {
    throw new ConnectorError(`${where}: connector.command ${JSON.stringify(command)} is not a program name; give the connector's executable (on the image's PATH, or its absolute path)`);
  }
  return command;
}

/** The image from the context, or why there is none (another engine, or Docker on another host). */
function imageOf(ctx: ConnectorContext, command: string, where: string, known: readonly string[]): ExperimentImage {
  const img = ctx.experimentImage;
  if (!img) {
    throw new ConnectorError(
      `${where}: connector ${command} is not built in (built in: ${known.join(', ') || 'none'}); RED Lab runs other connectors (Curious Containers connector images) ` +
        `inside the experiment's image only on a Docker engine on this host, and this engine is not one; use a built-in connector or run on the local Docker engine`
    );
  }
  return img;
}

/** Appends to a text while it is below the cap. */
function capped(text: string, more: string): string {
  return text.length >= OUTPUT_CAP ? text : (text + more).slice(0, OUTPUT_CAP);
}

/**
 * Runs `argv` in a helper container of the experiment's image, with the hardening of a
 * run's container (no capabilities, no-new-privileges, memory/process/log limits, init),
 * the image's ENTRYPOINT cleared as for the command, and `binds`. The helper is on
 * Docker's default bridge network: a connector must reach its server, as it does in CC.
 */
async function runHelper(img: ExperimentImage, argv: string[], binds: BindMount[], signal: AbortSignal | undefined): Promise<HelperResult> {
  const hostConfig = buildHostConfig({ image: img.image, cmd: argv, ramMb: img.ramMb, inputBinds: [], runId: '', batch: 0, pidsLimit: img.pidsLimit });
  hostConfig.Binds = binds.map(bindSpec);
  hostConfig.AutoRemove = false;
  let stdout = '';
  let stderr = '';
  const outcome = await runContainer({
    docker: img.docker,
    create: {
      Image: img.image,
      Cmd: argv,
      Entrypoint: [],
      WorkingDir: '/',
      ...(img.user ? { User: img.user } : {}),
      Labels: { ...(img.labels ?? {}), [LABEL_CONNECTOR]: argv[1] ?? '' },
      Tty: false,
      OpenStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      NetworkDisabled: false,
      HostConfig: hostConfig
    },
    signal,
    stopTimeoutSec: 2,
    onLog: (stream, text) => {
      if (stream === 'stdout') stdout = capped(stdout, text);
      else stderr = capped(stderr, text);
    }
  });
  if (outcome.cancelled) throw new ConnectorError('cancelled');
  const exec = /executable file not found|no such file or directory|permission denied/i;
  if (outcome.startError) {
    if (exec.test(outcome.startError)) return { exitCode: 127, stdout, stderr: outcome.startError };
    throw new ConnectorError(`Docker could not run ${callText(argv.slice(0, 2))} in image ${img.imageUrl}: ${outcome.startError}`);
  }
  if (outcome.oomKilled) return { exitCode: outcome.exitCode ?? 137, stdout, stderr: `${stderr}\nkilled: out of memory (the run's RAM limit applies to its connectors too; raise container.settings.ram)`.trim() };
  return { exitCode: outcome.exitCode ?? -1, stdout, stderr };
}

/**
 * Removes the connector helpers a process that died left behind: those that ended (or were never
 * started) over `graceMs` ago. A running helper belongs to a run going on, or ends by itself and
 * goes at a later start; one that just ended is its run's to read and remove. Returns their names.
 */
export async function removeEndedConnectorHelpers(docker: Docker, graceMs = 60_000): Promise<string[]> {
  const found = await docker.listContainers({ all: true, filters: { label: [LABEL_CONNECTOR], status: ['exited', 'dead', 'created'] } });
  const removed: string[] = [];
  for (const c of found) {
    try {
      const info = await docker.getContainer(c.Id).inspect();
      const since = Date.parse(info.State.Status === 'created' ? info.Created : info.State.FinishedAt);
      if (!(Date.now() - since >= graceMs)) continue;
      await docker.getContainer(c.Id).remove({ force: true });
      removed.push(info.Name.replace(/^\//, '') || c.Id.slice(0, 12));
    } catch {
      // Removed meanwhile (by its own run), or Docker refused: a later start tries again.
    }
  }
  return removed;
}

/** The error text of a failed call, as CC's agent gives it: stderr, else stdout, else that both were empty. */
export function connectorErrorText(r: HelperResult): string {
  const parts: string[] = [];
  if (r.exitCode > 128 && r.exitCode < 160) parts.push(`the connector was killed by signal ${r.exitCode - 128}`);
  const err = r.stderr.trim();
  const out = r.stdout.trim();
  if (err) parts.push(err);
  else if (out) parts.push(`its stderr was empty; its stdout: ${out}`);
  else if (!parts.length) parts.push('it printed nothing on stderr or stdout');
  return parts.join('\n');
}

/** Whether the call failed because the image has no such program (tini: exec failed; Docker: executable file not found). */
function commandMissing(r: HelperResult): boolean {
  return (r.exitCode === 127 || r.exitCode === 126) && /\bexec .* failed\b|executable file not found/i.test(r.stderr);
}

/**
 * One protocol call: `command sub [ACCESS] [path] [--listing=LISTING]` with the access and
 * listing in a folder made for this call (readable by the helper's user: the folder is
 * below `privateDir`, which no one else can enter) and removed after it, whatever happens.
 */
async function call(
  img: ExperimentImage,
  command: string,
  sub: string,
  o: { access?: Record<string, unknown>; listing?: ListingEntry[]; localPath?: string; binds?: BindMount[]; signal?: AbortSignal; where: string }
): Promise<HelperResult> {
  const binds = [...(o.binds ?? [])];
  const argv = [command, sub];
  let secrets: string | undefined;
  try {
    if (o.access !== undefined || o.listing !== undefined) {
      await assertPrivate(img.privateDir);
      secrets = await mkdtemp(path.join(img.privateDir, '.redlab-connector-'));
      // The helper's user may differ from this process's: it reads the files through
      // the bind; the private folder above keeps everyone else out.
      await chmod(secrets, 0o755);
      binds.push({ hostPath: secrets, containerPath: SECRETS_IN_CONTAINER, readOnly: true });
    }
    if (o.access !== undefined) {
      await writeFile(path.join(secrets as string, 'access.json'), JSON.stringify(o.access), { mode: 0o644 });
      argv.push(`${SECRETS_IN_CONTAINER}/access.json`);
    }
    if (o.localPath !== undefined) argv.push(o.localPath);
    if (o.listing !== undefined) {
      await writeFile(path.join(secrets as string, 'listing.json'), JSON.stringify(o.listing), { mode: 0o644 });
      // CC's agent passes it in this form (--listing=FILE), after the positional arguments.
      argv.push(`--listing=${SECRETS_IN_CONTAINER}/listing.json`);
    }
    const r = await runHelper(img, argv, binds, o.signal);
    if (commandMissing(r)) {
      throw new ConnectorError(
        `${o.where}: image ${img.imageUrl} has no connector command ${command} (it is not on the image's PATH, or not executable): ` +
          `it is not a built-in connector either; check connector.command, or install the connector in the image`
      );
    }
    return r;
  } finally {
    if (secrets) await rm(secrets, { recursive: true, force: true });
  }
}

/** The folder for ACCESS files must be a real folder only its owner (this process) can enter. */
async function assertPrivate(dir: string): Promise<void> {
  const st = await lstat(dir).catch(() => undefined);
  const uid = process.getuid?.();
  if (!st?.isDirectory() || (uid !== undefined && st.uid !== uid)) throw new ConnectorError(`the folder for connector access files ${dir} is not a folder of this process`);
  let p = dir;
  // Some folder on the way must be closed to others (the run folder is 0700).
  for (;;) {
    const s = await lstat(p);
    if (s.uid === uid && (s.mode & 0o077) === 0) return;
    const up = path.dirname(p);
    if (up === p) throw new ConnectorError(`the folder for connector access files ${dir} is not below a private (0700) folder: others could read the secrets`);
    p = up;
  }
}

/** Per image and command: the checked cli-version (a promise, so that parallel calls ask once). */
const versionChecks = new WeakMap<ExperimentImage, Map<string, Promise<void>>>();

/** `command cli-version` must print the one line `1` (as CC's agent checks it). */
export function checkCliVersion(img: ExperimentImage, command: string, where: string, signal?: AbortSignal): Promise<void> {
  let byCommand = versionChecks.get(img);
  if (!byCommand) versionChecks.set(img, (byCommand = new Map()));
  let check = byCommand.get(command);
  if (!check) {
    check = (async () => {
      const r = await call(img, command, 'cli-version', { signal, where });
      const lines = r.stdout.split(/\r?\n/).filter(l => l.length);
      if (r.exitCode !== 0 || lines.length !== 1 || lines[0].trim() !== CC_CONNECTOR_CLI_VERSION) {
        const said = r.exitCode !== 0 ? `it exited with code ${r.exitCode}: ${connectorErrorText(r)}` : `it printed ${JSON.stringify(r.stdout.trim().slice(0, 200))}`;
        throw new ConnectorError(
          `${where}: image ${img.imageUrl}'s connector ${command} does not speak the CC connector protocol version ${CC_CONNECTOR_CLI_VERSION} (\`${command} cli-version\` must print ${CC_CONNECTOR_CLI_VERSION}; ${said})`
        );
      }
    })();
    byCommand.set(command, check);
    // A cancelled or failed check is asked again next time.
    check.catch(() => byCommand?.delete(command));
  }
  return check;
}

/** Runs a protocol call and throws its error text when it fails. */
async function mustSucceed(img: ExperimentImage, command: string, sub: string, o: Parameters<typeof call>[3]): Promise<void> {
  const r = await call(img, command, sub, o);
  if (r.exitCode !== 0) throw new ConnectorError(`${o.where}: connector ${command} ${sub} failed (exit code ${r.exitCode}): ${connectorErrorText(r)}`);
}

function refuseMount(value: FileOrDirectory, command: string, where: string): void {
  if (value.connector.mount) {
    throw new ConnectorError(
      `${where}: connector ${command} has mount: true; its mount-dir would need SYS_ADMIN and /dev/fuse inside the container, which RED Lab never gives a container. ` +
        `Set mount: false to receive the folder (receive-dir) before the run`
    );
  }
}

const accessOf = (a: unknown): Record<string, unknown> => (a && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : {});

/** The input connector that runs `command` of the experiment's image (`where`: the input, for a bad command). */
export function ccInputConnector(command: string, where: string, known: readonly string[]): InputConnector {
  checkCommand(command, where);
  return {
    command,
    classes: ['File', 'Directory'],
    async validate(req: { label: string; value: FileOrDirectory }, ctx: ConnectorContext): Promise<void> {
      const where = `input ${req.label}`;
      refuseMount(req.value, command, where);
      const img = imageOf(ctx, command, where, known);
      await checkCliVersion(img, command, where, ctx.signal);
      const isDir = req.value.class === 'Directory';
      await mustSucceed(img, command, isDir ? 'receive-dir-validate' : 'receive-file-validate', {
        access: accessOf(req.value.connector.access),
        listing: isDir ? req.value.listing : undefined,
        signal: ctx.signal,
        where
      });
    },
    async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
      const where = `input ${req.label}`;
      refuseMount(req.value, command, where);
      const img = imageOf(ctx, command, where, known);
      await checkCliVersion(img, command, where, ctx.signal);
      const isDir = req.value.class === 'Directory';
      // The holder (dest's folder, made by staging for this input only) is bound where
      // CC would put the input; the connector's user must be able to write it.
      const holder = path.dirname(req.dest);
      const base = path.basename(req.dest);
      const inContainer = `/cc/inputs/${req.key}${req.index === undefined ? '' : `/${req.index}`}`;
      await mkdir(holder, { recursive: true });
      await chmod(holder, 0o777);
      try {
        await mustSucceed(img, command, isDir ? 'receive-dir' : 'receive-file', {
          access: accessOf(req.value.connector.access),
          localPath: `${inContainer}/${base}`,
          listing: isDir ? req.value.listing : undefined,
          binds: [{ hostPath: holder, containerPath: inContainer, readOnly: false }],
          signal: ctx.signal,
          where
        });
      } finally {
        await chmod(holder, 0o755).catch(() => undefined);
      }
      await checkReceived(req.dest, isDir, command, where);
      return { hostPath: req.dest, copied: true, ...(isDir && req.value.listing ? { listing: req.value.listing } : {}) };
    }
  };
}

/**
 * What the connector left at `dest` must be what the RED says (a file, or a folder) and
 * only plain files and folders: the host binds it into the experiment container and
 * hashes it, and a link the helper planted would lead to the host's files.
 */
async function checkReceived(dest: string, isDir: boolean, command: string, where: string): Promise<void> {
  const st = await lstat(dest).catch(() => undefined);
  const local = `/cc/inputs/…/${path.basename(dest)}`;
  if (!st) throw new ConnectorError(`${where}: connector ${command} exited 0 but wrote no ${isDir ? 'folder' : 'file'} at ${local}`);
  if (st.isSymbolicLink()) throw new ConnectorError(`${where}: connector ${command} left a symbolic link at ${local}; it must write the data itself`);
  if (isDir ? !st.isDirectory() : !st.isFile()) throw new ConnectorError(`${where}: connector ${command} wrote a ${st.isDirectory() ? 'folder' : 'non-file'} at ${local}, but the input is a ${isDir ? 'Directory' : 'File'}`);
  if (!isDir) return;
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
      else if (!e.isFile()) throw new ConnectorError(`${where}: connector ${command} left ${r} in the folder, which is ${e.isSymbolicLink() ? 'a symbolic link' : 'not a plain file'}; inputs may hold only files and folders`);
    }
  };
  await walk(dest, '');
}

/** The output connector that runs `command` of the experiment's image (`where`: the output, for a bad command). */
export function ccOutputConnector(command: string, where: string, known: readonly string[]): OutputConnector {
  checkCommand(command, where);
  return {
    command,
    classes: ['File', 'Directory'],
    async validate(req: { key: string; class: 'File' | 'Directory'; access: Record<string, unknown> }, ctx: ConnectorContext): Promise<void> {
      const where = `output ${req.key}`;
      const img = imageOf(ctx, command, where, known);
      await checkCliVersion(img, command, where, ctx.signal);
      await mustSucceed(img, command, req.class === 'Directory' ? 'send-dir-validate' : 'send-file-validate', { access: accessOf(req.access), signal: ctx.signal, where });
    },
    async send(req: OutputSendRequest, ctx: ConnectorContext): Promise<{ target: string }> {
      const where = `output ${req.key}`;
      const img = imageOf(ctx, command, where, known);
      await checkCliVersion(img, command, where, ctx.signal);
      // The output's folder (a private copy only it is in) is bound read-only at /cc/outputs.
      const folder = path.dirname(req.hostPath);
      await chmod(folder, 0o755);
      await mustSucceed(img, command, req.class === 'Directory' ? 'send-dir' : 'send-file', {
        access: accessOf(req.access),
        localPath: `/cc/outputs/${path.basename(req.hostPath)}`,
        binds: [{ hostPath: folder, containerPath: '/cc/outputs', readOnly: true }],
        signal: ctx.signal,
        where
      });
      return { target: `${command} (connector of image ${img.imageUrl})` };
    }
  };
}

/** The registry's fallback for commands that are not built in (see ConnectorRegistry.withFallback). */
export const ccConnectorFallback: ConnectorFallback = { input: ccInputConnector, output: ccOutputConnector };

/**
 * Every input's and (when they are sent) every output's validation, before any transfer,
 * as CC's agent does: a wrong password fails the batch before gigabytes move. Only
 * connectors that validate (the CC connector images') are asked.
 */
export async function validateConnectors(plan: Pick<BatchPlan, 'items' | 'outputs' | 'batch'>, sendOutputs: boolean, registry: ConnectorRegistry, ctx: ConnectorContext): Promise<void> {
  for (const item of plan.items) {
    await registry.input(item.value.connector.command, item.label, item.value.class).validate?.({ label: item.label, value: item.value }, ctx);
  }
  if (!sendOutputs) return;
  for (const [key, target] of Object.entries(plan.batch.outputs ?? {})) {
    const spec = plan.outputs.find(o => o.key === key);
    if (!spec) continue; // planBatch refused it already
    const cls = spec.kind === 'Directory' ? 'Directory' : 'File';
    await registry.output(target.connector?.command, key, cls).validate?.({ key, class: cls, access: accessOf(target.connector?.access) }, ctx);
  }
}
