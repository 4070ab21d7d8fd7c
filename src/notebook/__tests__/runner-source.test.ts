// src/notebook/runner-source.ts embeds jupyterlab_redlab/runner/redlab_nbrun.py: editing the
// runner without regenerating would make the panel write the old one next to notebooks.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RUNNER_FILENAME, RUNNER_SOURCE, RUNNER_VERSION } from '../runner-source';

const root = path.join(__dirname, '../../..');

test('src/notebook/runner-source.ts is up to date with jupyterlab_redlab/runner/redlab_nbrun.py', () => {
  const script = path.join(root, 'jupyterlab_redlab/runner/generate_source.js');
  expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  expect(RUNNER_SOURCE).toBe(fs.readFileSync(path.join(root, 'jupyterlab_redlab/runner', RUNNER_FILENAME), 'utf8'));
  expect(RUNNER_SOURCE).toContain(`RUNNER_VERSION = "${RUNNER_VERSION}"`);
});
