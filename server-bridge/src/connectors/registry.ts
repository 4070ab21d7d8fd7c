// Which connector commands an engine understands. Engines look connectors up
// here; a later issue registers SFTP/SSH/FUSE ones.
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

/** The built-in connectors: red-connector-http (in and out, reaching what `hostPolicy` allows) and redlab-connector-local (in). */
export function defaultConnectors(opts: { hostPolicy?: HostPolicy } = {}): ConnectorRegistry {
  const http = createHttpConnectors(opts.hostPolicy);
  const ftp = createFtpConnectors(opts.hostPolicy);
  return new ConnectorRegistry().registerInput(http.input).registerInput(localInputConnector).registerOutput(http.output).registerInput(ftp.input).registerOutput(ftp.output);
}
