// Which connector commands an engine understands. Engines look connectors up
// here.
import { createFtpConnectors } from './ftp';
import { createHttpConnectors } from './http';
import type { HostPolicy } from './host-policy';
import { localInputConnector } from './local';
import { createSshConnectors } from './sftp';
import { ConnectorError, type InputConnector, type OutputConnector } from './types';

export class ConnectorRegistry {
  private readonly inputs = new Map<string, InputConnector>();
  private readonly outputs = new Map<string, OutputConnector>();

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
    const c = this.inputs.get(command);
    if (!c) throw new ConnectorError(`connector ${command} is not supported yet (input ${label}); supported: ${this.inputCommands.join(', ')}`);
    if (!c.classes.includes(cls)) throw new ConnectorError(`connector ${command} cannot receive a ${cls} (input ${label}); it handles ${c.classes.join(', ')}`);
    return c;
  }

  output(command: string, key: string, cls: 'File' | 'Directory'): OutputConnector {
    const c = this.outputs.get(command);
    if (!c) throw new ConnectorError(`connector ${command} is not supported yet (output ${key}); supported: ${this.outputCommands.join(', ') || 'none'}`);
    if (!c.classes.includes(cls)) throw new ConnectorError(`connector ${command} cannot send a ${cls} (output ${key}); it handles ${c.classes.join(', ')}`);
    return c;
  }
}

/**
 * The built-in connectors: red-connector-http, -ftp and -ssh (in and out, reaching what `hostPolicy`
 * allows; SSH host keys checked against `sshKnownHostsFile`, default REDLAB_SSH_KNOWN_HOSTS, else
 * ~/.ssh/known_hosts) and redlab-connector-local (in).
 */
export function defaultConnectors(opts: { hostPolicy?: HostPolicy; sshKnownHostsFile?: string } = {}): ConnectorRegistry {
  const http = createHttpConnectors(opts.hostPolicy);
  const ftp = createFtpConnectors(opts.hostPolicy);
  const ssh = createSshConnectors({ policy: opts.hostPolicy, knownHostsFile: opts.sshKnownHostsFile });
  return new ConnectorRegistry().registerInput(http.input).registerInput(localInputConnector).registerOutput(http.output).registerInput(ftp.input).registerOutput(ftp.output).registerInput(ssh.input).registerOutput(ssh.output);
}
