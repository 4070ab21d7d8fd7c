// Output downloads never follow a link: not at the file, not at a folder on the way
// from the run's folder to it, and a recorded path outside the run's folder is not
// served. Real HTTP on 127.0.0.1, the real RunStore.
import * as fs from 'fs';
import * as path from 'path';
import { call, createStoredRun, finishWithOutputs, startHarness, type Harness } from './helpers/api';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

test('a folder on the way replaced by a link to another folder holding a same-named file: 409, the other file is not sent', async () => {
  const id = createStoredRun(h.store);
  const res = finishWithOutputs(h.store, id, { 'a.txt': 'abc' });
  const file = res.outputs!['a.txt']!.path;
  const outputs = path.dirname(file);
  // Same name and size elsewhere: only the link in between tells them apart.
  const elsewhere = fs.mkdtempSync(path.join(h.dir, 'elsewhere-'));
  fs.writeFileSync(path.join(elsewhere, 'a.txt'), 'xyz');
  fs.rmSync(outputs, { recursive: true });
  fs.symlinkSync(elsewhere, outputs);
  const r = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/a.txt`);
  expect(r.status).toBe(409);
  expect(r.json.error).toBe(`the output file is behind a symbolic link: outputs is a symbolic link (to ${elsewhere}); the bridge does not follow links in the run's folder`);
});

test('a recorded path outside the run folder is not served', async () => {
  const id = createStoredRun(h.store);
  const res = finishWithOutputs(h.store, id, { 'b.txt': 'abc' });
  const outside = path.join(h.dir, 'outside.txt');
  fs.writeFileSync(outside, 'abc');
  res.outputs!['b.txt']!.path = outside;
  h.store.setResult(id, res);
  const r = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/b.txt`);
  expect(r.status).toBe(409);
  expect(r.json.error).toBe("the output file outside.txt is not in the run's folder; the bridge serves only outputs it keeps there");
});
