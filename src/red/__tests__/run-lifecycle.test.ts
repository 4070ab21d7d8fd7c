// The run lifecycle is defined once (src/red/run.ts) and used by the store, the bridge's run
// manager and the frontend's reducer: its rules, and a scan of the sources for lists of states
// written out anywhere else (a twin would drift from it).
import * as fs from 'fs';
import * as path from 'path';
import { ALL_STATES, FINAL_STATES, isFinalState, isForwardTransition, isLegalRunTransition, statesTowards, type RunState } from '../run';
import * as wire from '../bridge-api';

test('the states, the final ones, and the wire module re-exporting the same', () => {
  expect(ALL_STATES).toEqual(['queued', 'preparing', 'running', 'collecting', 'succeeded', 'failed', 'cancelled']);
  expect(ALL_STATES.filter(isFinalState)).toEqual(FINAL_STATES);
  expect(wire.ALL_STATES).toBe(ALL_STATES);
  expect(wire.isFinalState).toBe(isFinalState);
});

test('a run goes one step at a time; a batch (or a follower) may skip forward; failed and cancelled end any unfinished state', () => {
  const legal: string[] = [];
  const forward: string[] = [];
  for (const from of ALL_STATES) {
    for (const to of ALL_STATES) {
      if (isLegalRunTransition(from, to)) legal.push(`${from}>${to}`);
      if (isForwardTransition(from, to)) forward.push(`${from}>${to}`);
    }
  }
  const ends = (from: RunState) => [`${from}>failed`, `${from}>cancelled`];
  expect(legal.sort()).toEqual(
    ['queued>preparing', 'preparing>running', 'running>collecting', 'collecting>succeeded', ...['queued', 'preparing', 'running', 'collecting'].flatMap(s => ends(s as RunState))].sort()
  );
  expect(forward).toEqual(expect.arrayContaining(['queued>running', 'queued>succeeded', 'preparing>collecting', 'collecting>failed']));
  expect(forward.filter(t => !legal.includes(t)).sort()).toEqual(['preparing>collecting', 'preparing>succeeded', 'queued>collecting', 'queued>running', 'queued>succeeded', 'running>succeeded']);
});

test('statesTowards: the legal steps up to a state ahead, none when it is not ahead or the run is over', () => {
  expect(statesTowards('queued', 'collecting')).toEqual(['preparing', 'running', 'collecting']);
  expect(statesTowards('running', 'running')).toEqual([]);
  expect(statesTowards('collecting', 'preparing')).toEqual([]);
  expect(statesTowards('failed', 'running')).toEqual([]);
  expect(statesTowards('running', 'failed')).toEqual([]);
  expect(statesTowards('collecting', 'succeeded')).toEqual(['succeeded']);
  for (const from of ALL_STATES) {
    for (const to of ALL_STATES) {
      const steps = statesTowards(from, to);
      steps.forEach((s, i) => expect(isLegalRunTransition(i ? steps[i - 1] : from, s)).toBe(true));
    }
  }
});

/** Source files of the core, the frontend and the bridge (not tests, not generated code). */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return ['__tests__', 'generated', 'node_modules'].includes(e.name) ? [] : sources(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

test('no source but src/red/run.ts writes out a list of run states (the schema migration is fixed history)', () => {
  const root = path.resolve(__dirname, '../../..');
  const allowed = ['src/red/run.ts', 'server-bridge/src/store/schema.ts'];
  const pair = new RegExp(`['"](${ALL_STATES.join('|')})['"]\\s*,\\s*['"](${ALL_STATES.join('|')})['"]`, 'g');
  // 'running' and 'collecting' are phase names too (Phase): a list of phases is not a twin.
  const phases: string[] = ['pull', 'staging', 'running', 'collecting'];
  const listsStates = (text: string) => [...text.matchAll(pair)].some(m => !(phases.includes(m[1]) && phases.includes(m[2])));
  const files = [...sources(path.join(root, 'src')), ...sources(path.join(root, 'server-bridge/src'))].map(f => path.relative(root, f).split(path.sep).join('/'));
  expect(files).toEqual(expect.arrayContaining(['src/streaming/reducer.ts', 'server-bridge/src/store/run-store.ts', 'server-bridge/src/bridge/run-manager.ts']));
  const twins = files.filter(f => !allowed.includes(f) && listsStates(fs.readFileSync(path.join(root, f), 'utf8')));
  expect(twins).toEqual([]);
  expect(listsStates("const ORDER = ['queued', 'preparing'];")).toBe(true);
  expect(listsStates("['succeeded', 'failed', 'cancelled'].includes(x)")).toBe(true);
  expect(listsStates("const PHASES = ['staging', 'running', 'collecting'];")).toBe(false);
});
