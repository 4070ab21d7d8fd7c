// Which connector commands an engine understands. Engines look connectors up
// here.
import { createFtpConnectors } from './ftp';
import { createHttpConnectors } from './http';
import { createHttpArchiveConnector } from './http-archive';
import { createHttpJsonConnectors } from './http-json';
import type { HostPolicy } from './host-policy';
import type { InputCache } from './input-cache';
import { localInputConnector } from './local';
import { createS3Connectors } from './s3';
import { createSshConnectors } from './sftp';
import { ConnectorError, type InputConnector, type OutputConnector } from './types';

/** Connectors for commands a registry does not have (the Docker engine's: Curious Containers connector images, engine/cc-connectors.ts). */
export interface ConnectorFallback {
  /** `where`: "input x" / "output y", for errors in the command itself. */
  input(command: string, where: string, builtIn: readonly string[]): InputConnector;
  output(command: string, where: string, builtIn: readonly string[]): OutputConnector;
}

export class ConnectorRegistry {
  private readonly inputs = new Map<string, InputConnector>();
  private readonly outputs = new Map<string, OutputConnector>();
  /** Received inputs kept for the next run (see input-cache.ts); absent: none kept. */
  inputCache?: InputCache;
  /** Inputs received at once (staging's default when absent). */
  transferLimit?: number;

  private fallback?: ConnectorFallback;

  /**
   * A view of this registry that hands commands it lacks to `fallback`; everything else it
   * reads from this registry as it is at each call (its prototype), so another engine sharing
   * this registry keeps refusing unknown commands.
   */
  withFallback(fallback: ConnectorFallback): ConnectorRegistry {
    const view = Object.create(this) as ConnectorRegistry;
    view.fallback = fallback;
    return view;
  }

  registerInput(c: InputConnector): this {
    this.inputs.set(c.command, c);
    return this;
  }

  registerOutput(c: OutputConnector): this {
    this.outputs.set(c.command, c);
    return this;
  }

  get inputCommands(): string[] {
    return [...this.inputs.keys()];
  }

  get outputCommands(): string[] {
    return [...this.outputs.keys()];
  }

  /** The input connector for `command`, or a ConnectorError naming the input and what is supported. */
  input(command: string, label: string, cls: 'File' | 'Directory'): InputConnector {
    const c = this.inputs.get(command) ?? this.fallback?.input(command, `input ${label}`, this.inputCommands);
    if (!c) throw new ConnectorError(`connector ${command} is not supported yet (input ${label}); supported: ${this.inputCommands.join(', ')}`);
    if (!c.classes.includes(cls)) throw new ConnectorError(`connector ${command} cannot receive a ${cls} (input ${label}); it handles ${c.classes.join(', ')}`);
    return c;
  }

  output(command: string, key: string, cls: 'File' | 'Directory'): OutputConnector {
    const c = this.outputs.get(command) ?? this.fallback?.output(command, `output ${key}`, this.outputCommands);
    if (!c) throw new ConnectorError(`connector ${command} is not supported yet (output ${key}); supported: ${this.outputCommands.join(', ') || 'none'}`);
    if (!c.classes.includes(cls)) throw new ConnectorError(`connector ${command} cannot send a ${cls} (output ${key}); it handles ${c.classes.join(', ')}`);
    return c;
  }
}

/**
 * The built-in connectors: red-connector-http, -http-json, -ftp and -ssh and redlab-connector-s3 (in and out; -http-archive in, reaching what `hostPolicy`
 * allows; SSH host keys checked against `sshKnownHostsFile`, default REDLAB_SSH_KNOWN_HOSTS, else
 * ~/.ssh/known_hosts) and redlab-connector-local (in).
 */
export function defaultConnectors(opts: { hostPolicy?: HostPolicy; sshKnownHostsFile?: string } = {}): ConnectorRegistry {
  const http = createHttpConnectors(opts.hostPolicy);
  const ftp = createFtpConnectors(opts.hostPolicy);
  const httpJson = createHttpJsonConnectors(opts.hostPolicy);
  const ssh = createSshConnectors({ policy: opts.hostPolicy, knownHostsFile: opts.sshKnownHostsFile });
  const s3 = createS3Connectors({ policy: opts.hostPolicy });
  return new ConnectorRegistry().registerInput(http.input).registerInput(localInputConnector).registerOutput(http.output).registerInput(ftp.input).registerOutput(ftp.output).registerInput(ssh.input).registerOutput(ssh.output)
    .registerInput(createHttpArchiveConnector(opts.hostPolicy)).registerInput(httpJson.input).registerOutput(httpJson.output)
    .registerInput(s3.input).registerOutput(s3.output);
}
