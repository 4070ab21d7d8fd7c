// The bridge's settings: flags first, then REDLAB_* environment variables, then
// defaults that are safe (loopback only, a fresh token) and work offline.
import { randomBytes } from 'crypto';
import * as os from 'os';
import * as path from 'path';
import { allowedConnectorHosts } from '../connectors/host-policy';
import { parallelTransfersFrom, resolveInputCache } from '../connectors/input-cache';
import { httpLimitsFromEnv, type HttpLimits } from './http/app';
import { ENGINE_NAMES, isEngineName, resolveDockerHosts, type DockerHosts } from './engines';

export interface BridgeOptions {
  host: string;
  port: number;
  token: string;
  /** True when no token was given and one was generated (it is printed once). */
  tokenGenerated: boolean;
  dataDir: string;
  allowedOrigins: string[];
  allowedRoots: string[];
  parallel: number;
  wallClockLimitMs?: number;
  imageAllowlist?: string[];
  /** A container session idle this long is stopped (--session-idle-timeout MIN / REDLAB_SESSION_IDLE_TIMEOUT; default 60 minutes; 0: never). */
  sessionIdleTimeoutMs: number;
  /**
   * Hosts (names, addresses, CIDR ranges) data connectors may reach although they are
   * loopback, link-local or the bridge's own address (refused by default: connectors
   * run on the host). From --allow-connector-host and REDLAB_ALLOW_CONNECTOR_HOSTS.
   */
  allowConnectorHosts: string[];
  /** HTTP limits against slow clients, from REDLAB_HEADERS_TIMEOUT_MS and its siblings (HTTP_LIMIT_VARIABLES); unset: createApp's defaults. */
  httpLimits: HttpLimits;
  logFormat: 'json' | 'pretty';
  logLevel: string;
  /**
   * The engines runs may go to (--engines / REDLAB_ENGINES). Absent: docker, and the
   * process engine (no container) too, as the default, when Docker is unreachable at start.
   */
  engines?: string[];
  /** Where a run that names no engine goes (--default-engine / REDLAB_DEFAULT_ENGINE). */
  defaultEngine?: string;
  /** --docker-host / REDLAB_DOCKER_HOST (ssh:// adds the docker-ssh engine), with the ssh key and known_hosts. */
  dockerHosts: DockerHosts;
  /** --ssh-known-hosts (else REDLAB_SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts): also for the red-connector-ssh data connector. */
  sshKnownHostsFile?: string;
  /** Received inputs are kept here (--input-cache / REDLAB_INPUT_CACHE; default <dataDir>/input-cache); absent: --no-input-cache. */
  inputCacheDir?: string;
  /** The input cache's bound in bytes (--input-cache-max-bytes / REDLAB_INPUT_CACHE_MAX_BYTES). */
  inputCacheMaxBytes: number;
  /** Inputs a batch receives at once (--parallel-transfers / REDLAB_PARALLEL_TRANSFERS; absent: staging's default). */
  parallelTransfers?: number;
}

export interface BridgeFlags {
  host?: string;
  port?: number;
  token?: string;
  dataDir?: string;
  allowedOrigin?: string[];
  allowRoot?: string[];
  parallel?: number;
  maxRunMinutes?: number;
  /** Minutes; 0: never. */
  sessionIdleTimeout?: number;
  allowImage?: string[];
  allowConnectorHost?: string[];
  logFormat?: string;
  logLevel?: string;
  /** Comma-separated, as REDLAB_ENGINES. */
  engines?: string;
  defaultEngine?: string;
  dockerHost?: string;
  sshIdentity?: string;
  sshKnownHosts?: string;
  /** A folder; false: --no-input-cache. */
  inputCache?: string | boolean;
  inputCacheMaxBytes?: string;
  parallelTransfers?: number;
}

export const DEFAULT_PORT = 8765;

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'redlab');
}

const list = (v: string | undefined, sep = ','): string[] => (v ? v.split(sep).map(s => s.trim()).filter(Boolean) : []);

export function resolveBridgeOptions(flags: BridgeFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): BridgeOptions {
  const port = flags.port ?? (env.REDLAB_PORT ? Number(env.REDLAB_PORT) : DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a number from 0 to 65535, not ${port}`);
  const given = flags.token ?? env.REDLAB_TOKEN;
  if (given !== undefined && given.length < 16) throw new Error('the token must have at least 16 characters (or leave it out and one is generated)');
  const host = flags.host ?? env.REDLAB_HOST ?? '127.0.0.1';
  const origins = [...(flags.allowedOrigin ?? []), ...list(env.REDLAB_ALLOWED_ORIGINS)];
  const parallel = flags.parallel ?? (env.REDLAB_PARALLEL ? Number(env.REDLAB_PARALLEL) : 2);
  if (!Number.isInteger(parallel) || parallel < 1) throw new Error(`--parallel must be a whole number of at least 1, not ${parallel}`);
  const maxMinutes = flags.maxRunMinutes ?? (env.REDLAB_MAX_RUN_MINUTES ? Number(env.REDLAB_MAX_RUN_MINUTES) : undefined);
  if (maxMinutes !== undefined && !(maxMinutes > 0)) throw new Error('--max-run-minutes must be a positive number');
  const idleMinutes = flags.sessionIdleTimeout ?? (env.REDLAB_SESSION_IDLE_TIMEOUT ? Number(env.REDLAB_SESSION_IDLE_TIMEOUT) : 60);
  if (!(Number.isFinite(idleMinutes) && idleMinutes >= 0)) {
    throw new Error(`${flags.sessionIdleTimeout !== undefined ? '--session-idle-timeout' : 'REDLAB_SESSION_IDLE_TIMEOUT'} must be a number of minutes (0: never stop idle sessions), not ${idleMinutes}`);
  }
  const images = [...(flags.allowImage ?? []), ...list(env.REDLAB_ALLOWED_IMAGES)];
  const connectorHosts = allowedConnectorHosts(flags.allowConnectorHost, env);
  const logFormat = (flags.logFormat ?? env.REDLAB_LOG_FORMAT ?? 'json') as BridgeOptions['logFormat'];
  if (logFormat !== 'json' && logFormat !== 'pretty') throw new Error(`--log-format must be json or pretty, not ${logFormat}`);
  const engines = list(flags.engines ?? env.REDLAB_ENGINES);
  const engineSource = flags.engines !== undefined ? '--engines' : 'REDLAB_ENGINES';
  for (const e of engines) if (!isEngineName(e)) throw new Error(`${engineSource}: there is no engine "${e}"; list some of ${ENGINE_NAMES.join(', ')} (e.g. docker,process)`);
  const defaultEngine = (flags.defaultEngine ?? env.REDLAB_DEFAULT_ENGINE) || undefined;
  const defaultSource = flags.defaultEngine !== undefined ? '--default-engine' : 'REDLAB_DEFAULT_ENGINE';
  if (defaultEngine !== undefined && !isEngineName(defaultEngine)) throw new Error(`${defaultSource}: there is no engine "${defaultEngine}"; use one of ${ENGINE_NAMES.join(', ')}`);
  if (defaultEngine !== undefined && engines.length && !engines.includes(defaultEngine)) {
    throw new Error(`${defaultSource} is ${defaultEngine}, which ${engineSource} (${engines.join(',')}) does not list: add it there, or choose one of those`);
  }
  const dataDir = path.resolve(cwd, flags.dataDir ?? env.REDLAB_DATA_DIR ?? defaultDataDir(env));
  const inputCache = resolveInputCache(flags, env, path.join(dataDir, 'input-cache'), cwd);
  const parallelTransfers = parallelTransfersFrom(flags.parallelTransfers, env);
  if (parallelTransfers !== undefined && !(Number.isInteger(parallelTransfers) && parallelTransfers >= 1)) throw new Error(`--parallel-transfers must be a whole number of at least 1, not ${parallelTransfers}`);
  return {
    host,
    port,
    token: given ?? randomBytes(24).toString('base64url'),
    tokenGenerated: given === undefined,
    dataDir,
    // Loopback pages of JupyterLab's usual ports, unless origins are configured.
    allowedOrigins: origins.length ? origins : ['http://localhost:8888', 'http://127.0.0.1:8888'],
    allowedRoots: [cwd, ...(flags.allowRoot ?? []), ...list(env.REDLAB_ALLOWED_ROOTS, path.delimiter)].map(r => path.resolve(cwd, r)),
    parallel,
    wallClockLimitMs: maxMinutes !== undefined ? Math.round(maxMinutes * 60_000) : undefined,
    imageAllowlist: images.length ? images : undefined,
    sessionIdleTimeoutMs: Math.round(idleMinutes * 60_000),
    allowConnectorHosts: connectorHosts,
    httpLimits: httpLimitsFromEnv(env),
    logFormat,
    logLevel: flags.logLevel ?? env.REDLAB_LOG_LEVEL ?? 'info',
    ...(engines.length ? { engines } : {}),
    ...(defaultEngine ? { defaultEngine } : {}),
    dockerHosts: resolveDockerHosts(flags, env),
    ...(flags.sshKnownHosts ? { sshKnownHostsFile: path.resolve(cwd, flags.sshKnownHosts) } : {}),
    ...(inputCache.dir ? { inputCacheDir: inputCache.dir } : {}),
    inputCacheMaxBytes: inputCache.maxBytes,
    ...(parallelTransfers !== undefined ? { parallelTransfers } : {})
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}
