// The real RO-Crate validator (roc-validator, profile process-run-crate-0.5) and ro-crate-py, run offline
// through test/helpers/rocrate-validator.ts, on hand-written crates (fixtures/run-crate): a minimal Process
// Run Crate that passes at RECOMMENDED level, and one broken crate per rule RED Lab's crate writer must keep
// (the action names its tool, times carry a +HH:MM offset, the tool's @id is absolute). Each broken crate
// differs from the passing one in that rule only, so a failure here is the validator reporting that rule.
// Needs .ci/rocrate-validator.sh (from .ci/setup): the packages in .venv and the filled offline cache.
import * as path from 'path';
import { readCrateWithRoCratePy, validateCrate, type CrateVerdict } from '../helpers/rocrate-validator';

jest.setTimeout(120_000);

const FIXTURES = path.join(__dirname, 'fixtures/run-crate');
const crate = (name: string) => path.join(FIXTURES, name);
const checks = (v: CrateVerdict) => v.issues.map(i => i.check).sort();

describe('the RO-Crate validator (process-run-crate-0.5), offline', () => {
  it('passes the minimal Process Run Crate at RECOMMENDED level', async () => {
    const v = await validateCrate(crate('minimal-passing'), { level: 'recommended' });
    expect(v.issues).toEqual([]);
    expect(v.passed).toBe(true);
    expect(v.raw).toMatchObject({ passed: true, validation_settings: { profile_identifier: 'process-run-crate-0.5', requirement_severity: 'RECOMMENDED', offline: true } });
  });

  it('fails a crate whose action has no instrument, already at REQUIRED level', async () => {
    for (const level of ['required', 'recommended'] as const) {
      const v = await validateCrate(crate('no-instrument'), { level });
      expect(v.passed).toBe(false);
      expect(v.issues).toEqual([{
        severity: 'REQUIRED',
        check: 'process-run-crate-0.5_1.1',
        message: 'The Action MUST have an instrument property that references the executed tool',
        entity: './#run-1'
      }]);
    }
  });

  it('fails times written with Z at RECOMMENDED level (the profile wants +HH:MM), and only there', async () => {
    const recommended = await validateCrate(crate('time-with-z'));
    expect(recommended.passed).toBe(false);
    expect(checks(recommended)).toEqual(['process-run-crate-0.5_8.4', 'process-run-crate-0.5_8.5']);
    expect(recommended.issues.map(i => i.message).sort()).toEqual([
      'If present, the Action startTime SHOULD be in ISO 8601 format',
      'The Action SHOULD have an endTime in ISO 8601 format'
    ]);
    expect(recommended.issues.every(i => i.severity === 'RECOMMENDED' && i.entity === './#run-1')).toBe(true);

    const required = await validateCrate(crate('time-with-z'), { level: 'required' });
    expect(required).toMatchObject({ passed: true, issues: [] });
  });

  it('fails a tool whose @id is relative (#grep) at RECOMMENDED level', async () => {
    const v = await validateCrate(crate('relative-tool-id'), { profile: 'process-run-crate-0.5', level: 'recommended' });
    expect(v.passed).toBe(false);
    expect(v.issues).toEqual([expect.objectContaining({
      severity: 'RECOMMENDED',
      check: 'process-run-crate-0.5_5.1',
      message: 'The SoftwareApplication id SHOULD be an absolute URI'
    })]);
  });

  it('refuses a folder without ro-crate-metadata.json, naming it', async () => {
    await expect(validateCrate(FIXTURES)).rejects.toThrow(`${FIXTURES} holds no ro-crate-metadata.json`);
  });
});

describe('ro-crate-py reads the crate back', () => {
  it('finds the root, the action, its tool and the files with their types', async () => {
    const view = await readCrateWithRoCratePy(crate('minimal-passing'));
    const types = Object.fromEntries(view.entities.map(e => [e.id, e.type]));
    expect(types).toMatchObject({
      './': ['Dataset'],
      'ro-crate-metadata.json': ['CreativeWork'],
      '#run-1': ['CreateAction'],
      'https://www.gnu.org/software/grep/': ['SoftwareApplication'],
      'input.txt': ['File'],
      'output.txt': ['File'],
      'https://orcid.org/0000-0002-1825-0097': ['Person'],
      'https://example.org/lab': ['Organization']
    });
    expect(view.root).toMatchObject({
      '@id': './',
      conformsTo: { '@id': 'https://w3id.org/ro/wfrun/process/0.5' },
      mentions: { '@id': '#run-1' },
      hasPart: [{ '@id': 'input.txt' }, { '@id': 'output.txt' }],
      license: { '@id': 'https://spdx.org/licenses/MIT' }
    });
  });

  it('says why when it cannot read a folder', async () => {
    await expect(readCrateWithRoCratePy(path.join(FIXTURES, 'no-such-crate'))).rejects.toThrow(/ro-crate-py could not read .*no-such-crate/);
  });
});
