import * as fs from 'fs';
import * as path from 'path';
import { toBatches } from '../batches';
import type { BatchRed, Red, SingleRed } from '../types';

const FIXTURES = path.join(__dirname, 'fixtures', 'exec');
const load = <T extends Red>(name: string): T => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;

describe('toBatches', () => {
  test('a single RED is one batch with its inputs and outputs', () => {
    const red = load<SingleRed>('wordcount.red.json');
    const batches = toBatches(red);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual({ inputs: red.inputs, outputs: red.outputs });
  });

  test('a single RED without outputs gets empty outputs', () => {
    const red = load<SingleRed>('wordcount.red.json');
    delete red.outputs;
    expect(toBatches(red)).toEqual([{ inputs: red.inputs, outputs: {} }]);
  });

  test('a single RED carries its cloud section into the batch', () => {
    const red = { ...load<SingleRed>('wordcount.red.json'), cloud: { enable: true } };
    expect(toBatches(red)[0].cloud).toEqual({ enable: true });
  });

  test('a batch RED gives its batches in order, outputs defaulting to {}', () => {
    const red = load<BatchRed>('sweep.red.json');
    const batches = toBatches(red);
    expect(batches).toHaveLength(2);
    expect(batches[0]).toEqual({ inputs: red.batches[0].inputs, outputs: red.batches[0].outputs });
    expect(batches[1]).toEqual({ inputs: red.batches[1].inputs, outputs: {} });
    expect(batches[1].inputs.rate).toBe(1e-5);
  });

  test('batch cloud and doc are kept', () => {
    const red = load<BatchRed>('sweep.red.json');
    red.batches[0].doc = 'first';
    red.batches[0].cloud = { x: 1 };
    expect(toBatches(red)[0]).toEqual({ inputs: red.batches[0].inputs, outputs: red.batches[0].outputs, doc: 'first', cloud: { x: 1 } });
  });

  test('null inputs and outputs are dropped, as Curious Containers does', () => {
    const red = load<SingleRed>('wordcount.red.json');
    (red.inputs as Record<string, unknown>).top = null;
    (red.outputs as Record<string, unknown>).histogram = null;
    const [batch] = toBatches(red);
    expect(Object.keys(batch.inputs)).toEqual(['text', 'threshold', 'stop_words', 'lower']);
    expect(batch.outputs).toEqual({});
    expect((red.inputs as Record<string, unknown>).top).toBeNull();
  });

  test('an empty batches list is an error', () => {
    const red = { ...load<BatchRed>('sweep.red.json'), batches: [] };
    expect(() => toBatches(red)).toThrow('RED has a "batches" list with no batch in it');
  });

  test('a batch without inputs is an error naming it', () => {
    const red = load<BatchRed>('sweep.red.json');
    delete (red.batches[1] as Partial<(typeof red.batches)[1]>).inputs;
    expect(() => toBatches(red)).toThrow('batches.1 has no "inputs" mapping');
  });

  test('a RED with neither inputs nor batches is an error', () => {
    const red = load<SingleRed>('wordcount.red.json') as Partial<SingleRed>;
    delete red.inputs;
    expect(() => toBatches(red as Red)).toThrow('RED has neither "inputs" nor "batches"');
  });
});
