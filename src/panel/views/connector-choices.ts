// The connectors a select offers for an input (receive) or an output (send): those the
// chosen engine has that can handle the class, by their names; the one chosen now stays
// listed (marked) when the engine lacks it, so that an imported experiment shows it.
import { connectorSpec, offeredConnectors, type ConnectorClass, type ConnectorDirection } from '../../red';

export interface ConnectorChoice {
  command: string;
  label: string;
}

export function connectorChoices(available: readonly string[], cls: ConnectorClass, direction: ConnectorDirection, current?: string): ConnectorChoice[] {
  const offered = offeredConnectors(available, cls, direction);
  const name = (c: string) => connectorSpec(c)?.label ?? c;
  const choices = offered.map(c => ({ command: c, label: name(c) }));
  if (current && !offered.includes(current)) choices.push({ command: current, label: `${name(current)} (not on this engine)` });
  return choices;
}
