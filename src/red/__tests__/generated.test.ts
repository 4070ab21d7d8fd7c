// The precompiled validators must match schema/red.schema.json: editing the
// schema without regenerating would silently validate against the old one.
import { execFileSync } from 'child_process';
import * as path from 'path';

test('src/red/generated/red-validators.ts is up to date with schema/red.schema.json', () => {
  const script = path.join(__dirname, '../../../schema/generate-validators.js');
  expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
});
