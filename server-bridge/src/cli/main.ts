// The `redlab` command line.
import { Command, CommanderError, InvalidArgumentError, Option, type OptionValues } from 'commander';
import redSchema from '../../../schema/red.schema.json';
import { defaultConnectors } from '../connectors/registry';
import { allowedConnectorHosts, HostPolicy } from '../connectors/host-policy';
import { defaultInputCacheDir, InputCache, parallelTransfersFrom, resolveInputCache, type InputCacheFlags } from '../connectors/input-cache';
import type { ConnectorRegistry } from '../connectors/registry';
import { DEFAULT_PARALLEL_TRANSFERS } from '../engine/staging';
import { SecretMasker } from '../../../src/red';
import { MaskedOutput } from './progress';
import { validateFiles } from './validate';
import { runFile, EXIT, type RunIO } from './run';
import { dockerImageFinder, rerun } from './rerun';
import { convertBatches, convertCwl, convertFormat, type FormatName } from './convert';
import { exportRun } from './export';
import { CliError } from './red-file';
import { DEFAULT_PORT, resolveBridgeOptions } from '../bridge/config';
import { createEngine, ENGINE_NAMES, isEngineName, resolveDockerHosts, type DockerHosts } from '../bridge/engines';
import { DOCKER_SSH_ENGINE } from '../engine/docker-ssh';
import { version } from '../../package.json';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of at least 0');
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Hosts connectors may reach although refused by default (flags and REDLAB_ALLOW_CONNECTOR_HOSTS); a bad entry is a usage error. */
function connectorHostPolicy(flags: string[] | undefined): HostPolicy {
  try {
    return new HostPolicy({ allow: allowedConnectorHosts(flags) });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** The input cache and the transfer limit (flags, then REDLAB_* variables), applied to a registry; a bad setting is a usage error. */
function transferSettings(flags: InputCacheFlags & { parallelTransfers?: number }, defaultCacheDir: string): (registry: ConnectorRegistry) => ConnectorRegistry {
  let cache: { dir?: string; maxBytes: number };
  let limit: number | undefined;
  try {
    cache = resolveInputCache(flags, process.env, defaultCacheDir, process.cwd());
    limit = parallelTransfersFrom(flags.parallelTransfers, process.env);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  return registry => {
    if (cache.dir) registry.inputCache = new InputCache({ dir: cache.dir, maxBytes: cache.maxBytes });
    registry.transferLimit = limit;
    return registry;
  };
}

/** The options of `run` and `bridge` for the input cache and parallel transfers. */
function addTransferOptions(cmd: Command, defaultDir: string): Command {
  return cmd
    .option('--input-cache <dir>', `keep received inputs here (content-addressed; a rerun asks the source whether it changed and downloads only then); default ${defaultDir}; also REDLAB_INPUT_CACHE (a folder, or off)`)
    .option('--no-input-cache', 'download every input again (keep none)')
    .option('--input-cache-max-bytes <size>', 'bound of the input cache (e.g. 20G, 500M; least recently used inputs go first; default 10G; also REDLAB_INPUT_CACHE_MAX_BYTES)')
    .option('--parallel-transfers <n>', `inputs received at once (default ${DEFAULT_PARALLEL_TRANSFERS}; also REDLAB_PARALLEL_TRANSFERS)`, positiveInt);
}

/** The options of `run` and `rerun` for where local inputs may come from and the engine that runs it. */
function addEngineOptions(cmd: Command, engineDefault: string): Command {
  return cmd
    .option('--allow-root <dir>', 'extra host folder local inputs may come from (repeatable)', collect, [])
    .option('--allow-connector-host <host>', ALLOW_CONNECTOR_HOST_HELP, collect, [])
    .option('--work-root <dir>', 'private folder for staged inputs and outputs while a batch runs (default: REDLAB_WORK_ROOT, else ~/.cache/redlab/runs)')
    .addOption(
      new Option(
        '--engine <name>',
        `docker: in a container; ${DOCKER_SSH_ENGINE}: in a container on the --docker-host over SSH; process: the command runs directly on this machine with its programs (no image, no limits: not isolated); slurm: each batch as a Slurm job with Charliecloud (on a login node); kubernetes: each batch as a Job. Default: the RED's execution.engine, else ${engineDefault}`
      ).choices([...ENGINE_NAMES])
    )
    .option('--docker-host <address>', 'the Docker engine: ssh://user@host[:port] (verified against known_hosts), tcp:// or unix:// (default: REDLAB_DOCKER_HOST, else DOCKER_HOST, else the local socket)')
    .option('--ssh-identity <file>', 'private key for an ssh:// Docker host (default: ~/.ssh/id_* and the ssh agent; also REDLAB_SSH_IDENTITY)')
    .option('--ssh-known-hosts <file>', 'known_hosts for an ssh:// Docker host and red-connector-ssh inputs/outputs (default ~/.ssh/known_hosts; also REDLAB_SSH_KNOWN_HOSTS)');
}

/**
 * What `run` and `rerun` run with, from their engine and transfer options: the engines (Docker
 * hosts, connectors with their host policy, input cache and transfer limit), the masked
 * streams, Ctrl-C. Bad settings are usage errors.
 */
function cliRunIO(opts: OptionValues, sinks: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; secrets: SecretMasker }): RunIO & { dockerHosts: DockerHosts } {
  const hostPolicy = connectorHostPolicy(opts.allowConnectorHost);
  const withTransfers = transferSettings(opts, defaultInputCacheDir(process.env));
  let dockerHosts: DockerHosts;
  try {
    dockerHosts = resolveDockerHosts(opts);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  return {
    dockerHosts,
    masker: sinks.secrets,
    stdin: process.stdin,
    stdout: sinks.out,
    stderr: sinks.err,
    env: process.env,
    cwd: process.cwd(),
    createEngine: ({ workRoot, name }) => {
      if (!isEngineName(name)) throw new CliError(`--engine: there is no engine "${name}"; use one of ${ENGINE_NAMES.join(', ')}`);
      try {
        return createEngine(name, { workRoot, dockerHosts, connectors: withTransfers(defaultConnectors({ hostPolicy, sshKnownHostsFile: opts.sshKnownHosts })) });
      } catch (e) {
        throw new CliError(`--engine ${name}: ${(e as Error).message}`);
      }
    },
    onInterrupt: handler => {
      let count = 0;
      const onSigint = () => (++count > 1 ? process.exit(EXIT.cancelled) : handler());
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      return () => {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      };
    }
  };
}

const ALLOW_CONNECTOR_HOST_HELP =
  'let data connectors reach this host although it is loopback or link-local (refused by default: connectors run on this machine); a name, an address or a CIDR range (repeatable; also REDLAB_ALLOW_CONNECTOR_HOSTS)';

export async function main(argv: string[]): Promise<number> {
  // Every byte the CLI writes passes one masking sink, filled with the run's secrets
  // (registerSecrets in runFile) once its {{variables}} are known.
  const secrets = new SecretMasker();
  const out = new MaskedOutput(process.stdout, secrets);
  const err = new MaskedOutput(process.stderr, secrets);
  try {
    return await runCommand(argv, out, err, secrets);
  } finally {
    out.flushMasked();
    err.flushMasked();
  }
}

async function runCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, secrets: SecretMasker): Promise<number> {
  let exitCode = 0;
  const program = new Command('redlab')
    .description('Run Reproducible Experiment Descriptions (RED, the Curious Containers format) in containers.')
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: s => out.write(s), writeErr: s => err.write(s) })
    .showHelpAfterError('(run `redlab --help` for usage)');

  program
    .command('validate')
    .description('check RED files and list every problem with its line and a fix')
    .argument('<file...>', 'RED files (YAML or JSON)')
    .action(async (files: string[]) => {
      exitCode = await validateFiles(files, out, err);
    });

  const runCmd = program
    .command('run')
    .description('run a RED experiment on the local Docker engine (or on Docker on another host over SSH, or with --engine process on this machine without a container)')
    .argument('<file>', 'RED file (YAML or JSON)')
    .option('--variables <file>', 'YAML/JSON file with values for {{variables}}')
    .option('--outdir <dir>', 'where outputs are written (batch N: <dir>_N)', 'outputs')
    .option('--non-interactive', 'never prompt; fail naming missing variables')
    .option('--leave-container', 'keep the container after the run (for debugging)')
    .option('--parallel <n>', 'batches run at once (default 1; on slurm and kubernetes all of them, or execution.settings.concurrency)', positiveInt)
    .option('--json', 'print the result as JSON on stdout (container output goes to stderr)')
    .option('--no-record', 'leave no run record (ro-crate-metadata.json and run-record/) in the outdir')
  addTransferOptions(addEngineOptions(runCmd, `docker, or ${DOCKER_SSH_ENGINE} when the Docker host is ssh://`), '~/.cache/redlab/inputs').action(async (file: string, opts) => {
    const io = cliRunIO(opts, { out, err, secrets });
    opts.defaultEngine = io.dockerHosts.ssh ? DOCKER_SSH_ENGINE : 'docker';
    exitCode = await runFile(file, opts, io);
  });

  const rerunCmd = program
    .command('rerun')
    .description(
      'run a recorded run again (same RED, inputs checked by sha256, image pinned by digest or ID) and report the drift: inputs, image, engine, every output (CSV/JSON values within --atol/--rtol, PNG pixels), the logs; exit 0 only when identical within tolerance, 1 on drift'
    )
    .argument('<run>', "a run's output folder (redlab run --outdir, holding ro-crate-metadata.json), its crate zip, or a bridge run id")
    .option('--json', 'print the drift report as JSON on stdout (the run\'s progress and output go to stderr)')
    .option('--atol <n>', 'absolute tolerance for numbers in CSV/JSON outputs (default 0)', Number)
    .option('--rtol <n>', 'relative tolerance for numbers in CSV/JSON outputs, of the recorded value (default 0)', Number)
    .option('--ignore <glob>', 'output files not to compare (repeatable): a name glob (stamp.txt, *.log) matches in any folder, one with a / the whole path (results/*.png); run-record/stdout.txt and run-record/stderr.txt are the logs', collect, [])
    .option('--outdir <dir>', "where the re-run's outputs and run record go (default: <run>-rerun-<timestamp> beside the run's folder)")
    .option('--variables <file>', 'YAML/JSON file with values for the RED\'s {{variables}} (secrets are not recorded)')
    .option('--non-interactive', 'never prompt; fail naming missing variables')
    .option('--data-dir <dir>', "for a bridge run id: the bridge's data folder (default: REDLAB_DATA_DIR, else the bridge's default)")
    .option('--batch <n>', 'for a bridge run id of a batch RED: which batch to re-run', nonNegativeInt);
  addTransferOptions(addEngineOptions(rerunCmd, 'the engine the run was recorded with'), '~/.cache/redlab/inputs').action(async (run: string, opts) => {
    const io = cliRunIO(opts, { out, err, secrets });
    exitCode = await rerun(run, opts, { ...io, findImage: dockerImageFinder(io.dockerHosts.local) });
  });

  const FOR_CC_HELP =
    'for Curious Containers (faice, CC-Agency): leave out a RED Lab engine in execution (slurm, kubernetes, …), which cc refuses, so faice runs the RED on its own machine';
  const convert = program.command('convert').description('convert RED files (as `faice convert`)');
  const formatOption = () => new Option('--format <format>', 'output format').choices(['yaml', 'json']);
  convert
    .command('format')
    .description('JSON <-> YAML with sorted keys (default: the other format)')
    .argument('<file>')
    .addOption(formatOption())
    .option('--curious-containers', FOR_CC_HELP)
    .action(async (file: string, opts: { format?: FormatName; curiousContainers?: boolean }) => {
      out.write(await convertFormat(file, opts.format, { forCc: opts.curiousContainers, warn: text => err.write(text + '\n') }));
    });
  convert
    .command('cwl')
    .description('the cli section as a CWL CommandLineTool file')
    .argument('<file>')
    .action(async (file: string) => {
      out.write(await convertCwl(file));
    });
  convert
    .command('batches')
    .description('split a batch RED into one RED file per batch (<prefix>batch_<N>.<ext>)')
    .argument('<file>')
    .addOption(formatOption().default('yaml'))
    .option('--prefix <prefix>', 'file name prefix', 'redlab_')
    .option('--outdir <dir>', 'folder for the files', '.')
    .option('--curious-containers', FOR_CC_HELP)
    .action(async (file: string, opts: { format: FormatName; prefix: string; outdir: string; curiousContainers?: boolean }) => {
      for (const written of await convertBatches(file, { ...opts, forCc: opts.curiousContainers, warn: text => err.write(text + '\n') })) out.write(written + '\n');
    });

  program
    .command('export')
    .description("a run's shareable bundle as one zip: its Process Run Crate with the outputs, its local inputs when small, and CITATION.cff and codemeta.json stubs to complete (ready for Zenodo)")
    .argument('<run>', "a run's output folder (redlab run --outdir, holding ro-crate-metadata.json) or a bridge run id")
    .option('--zip', 'write a zip (the one format so far; the default)')
    .option('-o, --output <file>', 'the zip to write (default: <folder>-crate.zip, or redlab-run-<id>.zip, in the current folder)')
    .option('--max-input-mb <n>', 'bundle the local inputs when together they are under this many MiB (default 100; 0: leave them out)', Number)
    .option('--batch <n>', 'for a bridge run of several batches: the batch to export (each has its own crate)', nonNegativeInt)
    .option('--data-dir <dir>', "the bridge's data folder, where a run id is looked up (default: REDLAB_DATA_DIR, else ~/.local/share/redlab)")
    .option('--author <name>', "the author for CITATION.cff and codemeta.json (\"Given Family\"; default: the crate's)")
    .option('--affiliation <name>', "the author's affiliation")
    .option('--orcid <id>', "the author's ORCID iD (0000-0002-1825-0097)")
    .option('--title <text>', "the dataset's title (default: the crate's name, else a TODO)")
    .action(async (run: string, opts) => {
      exitCode = await exportRun(run, opts, { out, err, env: process.env, cwd: process.cwd() });
    });

  const bridgeCmd = program
    .command('bridge')
    .description('start the bridge: the REST/WebSocket API JupyterLab uses to run experiments on Docker')
    .option('--host <host>', 'address to listen on (default 127.0.0.1: this machine only)')
    .option('--port <port>', `port (default ${DEFAULT_PORT}; 0 picks a free one)`, Number)
    .option('--token <token>', 'API token (default: REDLAB_TOKEN, else a new one is printed)')
    .option('--data-dir <dir>', 'run store and logs (default: ~/.local/share/redlab)')
    .option('--allowed-origin <origin>', 'browser origin allowed to call the API (repeatable)', collect, [])
    .option('--allow-root <dir>', 'extra host folder local inputs may come from (repeatable)', collect, [])
    .option('--parallel <n>', 'runs at once (default 2)', positiveInt)
    .option('--max-run-minutes <minutes>', 'wall-clock limit per run', Number)
    .option('--session-idle-timeout <minutes>', 'stop a container session idle this long (default 60; 0: never; also REDLAB_SESSION_IDLE_TIMEOUT)', Number)
    .option('--allow-image <pattern>', 'only run images matching this pattern, * as wildcard (repeatable)', collect, [])
    .option('--allow-connector-host <host>', ALLOW_CONNECTOR_HOST_HELP, collect, [])
    .option('--log-format <format>', 'json (default) or pretty')
    .option('--log-level <level>', 'info (default), debug, warn, error')
    .option(
      '--engines <names>',
      `engines runs may go to, comma-separated (${ENGINE_NAMES.join(',')}; default: docker, plus process when Docker is unreachable; also REDLAB_ENGINES)`
    )
    .option('--default-engine <name>', 'the engine of a run that names none (default: the first of --engines; also REDLAB_DEFAULT_ENGINE)')
    .option('--docker-host <address>', `ssh://user@host[:port] adds the ${DOCKER_SSH_ENGINE} engine (Docker there, host key checked against known_hosts); tcp:// or unix:// is the docker engine's (also REDLAB_DOCKER_HOST; an ssh:// DOCKER_HOST also adds it)`)
    .option('--ssh-identity <file>', 'private key for an ssh:// Docker host (default: ~/.ssh/id_* and the ssh agent; also REDLAB_SSH_IDENTITY)')
    .option('--ssh-known-hosts <file>', 'known_hosts for an ssh:// Docker host and red-connector-ssh inputs/outputs (default ~/.ssh/known_hosts; also REDLAB_SSH_KNOWN_HOSTS)');
  addTransferOptions(bridgeCmd, '<data dir>/input-cache').action(async flags => {
    let options;
    try {
      options = resolveBridgeOptions({
        ...flags,
        allowedOrigin: flags.allowedOrigin,
        allowRoot: flags.allowRoot,
        allowImage: flags.allowImage,
        allowConnectorHost: flags.allowConnectorHost
      });
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    // Loaded only for this command: the server (fastify, SQLite) stays out of the other commands' start-up.
    // (require, not import(): the bundle runs under V8's code cache, which has no dynamic import.)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startBridge } = require('../bridge/start') as typeof import('../bridge/start');
    const bridge = await startBridge(options, { version, stderr: err });
    await new Promise<void>(resolve => {
      const onSignal = () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        bridge.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
  });

  const schema = program.command('schema').description('the RED JSON Schema');
  schema
    .command('show')
    .description('print the RED 9 JSON Schema RED Lab validates against')
    .action(() => {
      out.write(JSON.stringify(redSchema, null, 2) + '\n');
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT.usage;
    if (e instanceof CliError) {
      err.write(`redlab: ${e.message}\n`);
      return e.exitCode;
    }
    // Through the masking sink too (bin/redlab.js would print it unmasked).
    err.write(`redlab: ${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}
