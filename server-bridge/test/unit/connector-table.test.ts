// The panel's connector table (src/red/connector-fields.ts) and the bridge's built-in connectors
// describe the same connectors: every built-in one has its fields in the table, with the classes
// it really receives and sends, so that the panel offers each with what it needs and no more.
import { connectorSpec } from '../../../src/red/connector-fields';
import { defaultConnectors } from '../../src/connectors/registry';

describe('the connector table and the built-in connectors', () => {
  const reg = defaultConnectors();

  it('describes every built-in input connector with the classes it receives', () => {
    for (const command of reg.inputCommands) {
      const spec = connectorSpec(command);
      expect({ command, described: !!spec }).toEqual({ command, described: true });
      const classes = (['File', 'Directory'] as const).filter(cls => {
        try {
          reg.input(command, 'x', cls);
          return true;
        } catch {
          return false;
        }
      });
      expect({ command, receives: [...spec!.receives] }).toEqual({ command, receives: classes });
    }
  });

  it('describes every built-in output connector with the classes it sends, and nothing sends that the bridge cannot', () => {
    for (const command of reg.outputCommands) {
      const spec = connectorSpec(command);
      expect({ command, described: !!spec }).toEqual({ command, described: true });
      const classes = (['File', 'Directory'] as const).filter(cls => {
        try {
          reg.output(command, 'x', cls);
          return true;
        } catch {
          return false;
        }
      });
      expect({ command, sends: [...spec!.sends] }).toEqual({ command, sends: classes });
    }
  });
});
