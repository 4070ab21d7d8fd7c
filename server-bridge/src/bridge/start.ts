// Starts the bridge: the run store, the Docker engine, the run manager (with
// crash recovery) and the HTTP/WebSocket API. SIGTERM/SIGINT drain: no new
// runs, running containers go on and are reattached by the next start.
import * as path from 'path';
import { RunStore } from '../store';
import { SecretRegistry } from '../../../src/red';
import { ensurePrivateDir } from '../util/private-dir';
import { createEngines } from './engines';
import { defaultConnectors } from '../connectors/registry';
import { InputCache } from '../connectors/input-cache';
import { HostPolicy, listeningAddresses } from '../connectors/host-policy';
import { createDockerClient } from '../engine/docker-client';
import { createApp, createLogger } from './http';
import { RunManager } from './run-manager';
import { SessionManager } from './session-manager';
import { isLoopback, type BridgeOptions } from './config';

export interface RunningBridge {
  url: string;
  port: number;
  manager: RunManager;
  /** Container sessions (also manager.sessions, which the HTTP layer uses). */
  sessions: SessionManager;
  store: RunStore;
  /** Drains and closes; running containers are left to run. */
  stop(): Promise<void>;
}

export async function startBridge(opts: BridgeOptions, io: { version: string; stderr: NodeJS.WritableStream }): Promise<RunningBridge> {
  // The secrets of the runs in flight: the store masks every write with them, the log every line.
  const secrets = new SecretRegistry();
  const logger = createLogger({ level: opts.logLevel as 'info', pretty: opts.logFormat === 'pretty', masker: secrets });
  if (!isLoopback(opts.host)) {
    logger.warn({ host: opts.host }, 'the bridge listens beyond this machine: anyone who can reach it and has the token controls Docker (root). Prefer 127.0.0.1 behind jupyter-server-proxy.');
  }
  // The store, logs and work folders: another account able to write here could forge runs.
  await ensurePrivateDir(opts.dataDir, 'data folder', 'choose a folder only you can write (redlab bridge --data-dir DIR or REDLAB_DATA_DIR), or remove this one');
  const store = RunStore.open(opts.dataDir, { secrets });
  const docker = createDockerClient({ dockerHost: opts.dockerHosts.local });
  // Connectors run here, on the host: no loopback, link-local or the bridge's own address unless allowed.
  const hostPolicy = new HostPolicy({
    allow: opts.allowConnectorHosts,
    deny: (await listeningAddresses(opts.host)).map(address => ({ address, reason: 'it is an address the bridge itself listens on' }))
  });
  if (opts.allowConnectorHosts.length) logger.warn({ allowConnectorHosts: opts.allowConnectorHosts }, 'data connectors may reach these hosts although they are loopback, link-local or the bridge itself');
  const connectors = defaultConnectors({ hostPolicy, sshKnownHostsFile: opts.sshKnownHostsFile });
  if (opts.inputCacheDir) connectors.inputCache = new InputCache({ dir: opts.inputCacheDir, maxBytes: opts.inputCacheMaxBytes });
  connectors.transferLimit = opts.parallelTransfers;
  const engines = await createEngines(
    { engines: opts.engines, defaultEngine: opts.defaultEngine },
    { docker, dockerHosts: opts.dockerHosts, workRoot: path.join(opts.dataDir, 'work'), connectors, log: m => logger.warn(m) }
  );
  const manager = new RunManager(
    store,
    engines,
    {
      parallel: opts.parallel,
      allowedRoots: opts.allowedRoots,
      baseDir: opts.allowedRoots[0],
      wallClockLimitMs: opts.wallClockLimitMs,
      imageAllowlist: opts.imageAllowlist,
      version: io.version
    },
    logger
  );
  await manager.start();
  // Sessions share the runs' GPU pools and image allowlist; they start after the runs' recovery read the GPU inventories.
  const sessions = new SessionManager(
    store,
    engines,
    manager,
    { allowedRoots: opts.allowedRoots, baseDir: opts.allowedRoots[0], imageAllowlist: opts.imageAllowlist, idleTimeoutMs: opts.sessionIdleTimeoutMs },
    logger
  );
  await sessions.start();
  manager.sessions = sessions;
  const api = createApp(manager, { token: opts.token, allowedOrigins: opts.allowedOrigins, logger, ...opts.httpLimits });
  const { url, port } = await api.listen({ host: opts.host, port: opts.port });
  logger.info({ url, dataDir: opts.dataDir, parallel: opts.parallel, engines: engines.names, defaultEngine: engines.defaultName }, 'RED Lab bridge ready');
  if (opts.tokenGenerated) {
    // Printed once, to the terminal only: never logged.
    io.stderr.write(`\nRED Lab bridge: ${url}/api/v1\nToken (keep it secret; set REDLAB_TOKEN to choose your own):\n  ${opts.token}\n\n`);
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('draining: no new runs; running containers keep running and are reattached on the next start');
      await manager.drain();
      await api.close();
      await sessions.close(); // session containers keep running: the next start reattaches
      await engines.close();
      store.close();
    })());
  return { url, port, manager, sessions, store, stop };
}
