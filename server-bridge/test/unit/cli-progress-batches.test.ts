// `redlab run` of a batch RED shows each batch's container output with `[N] ` in front of its
// lines. The prefix goes in after masking: a secret whose value spans lines would otherwise
// be cut by `[N] ` and pass the output sink unmasked. A line that arrives in two events is
// prefixed once.
import { Writable } from 'stream';
import { MASK, SecretMasker } from '../../../src/red';
import { MaskedOutput, ProgressPrinter } from '../../src/cli/progress';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      }
    }),
    text: () => text
  };
}

function printer(secrets: string[], batchCount = 2) {
  const masker = new SecretMasker();
  for (const s of secrets) masker.add(s);
  const out = sink();
  const err = sink();
  // As the CLI has it: the printer writes to MaskedOutputs, the one sink.
  const stdout = new MaskedOutput(out.stream, masker);
  const stderr = new MaskedOutput(err.stream, masker);
  const p = new ProgressPrinter({ stdout, stderr, batchCount, masker });
  const end = async () => {
    // As the CLI does before it exits.
    stdout.flushMasked();
    stderr.flushMasked();
    await new Promise<void>(r => stdout.end(r));
    await new Promise<void>(r => stderr.end(r));
  };
  return { p, out, err, end };
}

test('a secret that spans lines is masked before [N] goes in front of its lines', async () => {
  const { p, out, end } = printer(['pass\nword-42']);
  p.handle({ type: 'log', batch: 1, stream: 'stdout', data: 'token pass\nword-42 used\n' });
  await end();
  expect(out.text()).toBe(`[1] token ${MASK} used\n`);
  expect(out.text()).not.toContain('word-42');
});

test('a line that arrives in two events gets one prefix; batches keep their own lines', async () => {
  const { p, out, end } = printer([]);
  p.handle({ type: 'log', batch: 0, stream: 'stdout', data: 'par' });
  p.handle({ type: 'log', batch: 0, stream: 'stdout', data: 'tial\nnext\n' });
  p.handle({ type: 'log', batch: 1, stream: 'stdout', data: 'other\n' });
  await end();
  expect(out.text()).toBe('[0] partial\n[0] next\n[1] other\n');
});

test('what masking held back (a possible start of a secret) is written when the batch ends', async () => {
  const { p, out, err, end } = printer(['secret-token']);
  p.handle({ type: 'log', batch: 0, stream: 'stdout', data: 'done: secr' });
  const before = out.text();
  p.handle({ type: 'batch-state', batch: 0, state: 'succeeded' });
  await end();
  expect(before).not.toContain('secr');
  expect(out.text()).toBe('[0] done: secr');
  expect(err.text()).toContain('redlab[0]: succeeded');
});

test('one batch: the text goes out as it is (no prefix)', async () => {
  const { p, out, end } = printer(['abc'], 1);
  p.handle({ type: 'log', batch: 0, stream: 'stderr', data: 'x abc\n' });
  p.handle({ type: 'log', batch: 0, stream: 'stdout', data: 'plain\n' });
  await end();
  expect(out.text()).toBe('plain\n');
});
