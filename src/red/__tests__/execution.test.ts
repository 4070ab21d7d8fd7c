// execution.ts: the engine a RED names, time limits, and what Curious Containers is told about
// RED Lab's engines; convert.ts's forCuriousContainers, which leaves such an engine out.
import * as fs from 'fs';
import * as path from 'path';
import {
  curiousContainersIssues,
  curiousContainersMessage,
  executionChoice,
  executionConcurrency,
  executionEngine,
  formatTimeLimit,
  isRedLabExtension,
  kubernetesSettings,
  parseTimeLimit,
  RED_LAB_ENGINES,
  slurmSettings,
  TimeLimitError,
  timeLimitProblem
} from '../execution';
import { forCuriousContainers, splitBatches, toSortedYaml } from '../convert';
import * as core from '../index';
import type { ExecutionSpec, Red } from '../types';
import { loadRed } from '../validate';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const hello = (): Red => loadRed(fixture('hello-echo.red.yml')).red;
const withExecution = (execution: ExecutionSpec | undefined): Red => {
  const red = hello();
  if (execution) red.execution = execution;
  else delete red.execution;
  return red;
};

function thrown(f: () => unknown): TimeLimitError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TimeLimitError);
    return e as TimeLimitError;
  }
  throw new Error('expected a TimeLimitError');
}

describe('executionEngine / executionChoice', () => {
  test('each RED Lab engine is named as it is', () => {
    expect(executionEngine(withExecution({ engine: 'slurm', settings: { partition: 'debug' } }))).toBe('slurm');
    expect(executionEngine(withExecution({ engine: 'kubernetes', settings: {} }))).toBe('kubernetes');
    for (const engine of ['docker', 'docker-ssh', 'process'] as const) expect(executionChoice(withExecution({ engine, settings: {} }))).toEqual({ engine });
  });

  test('ccfaice and no execution: the default engine, nothing to say', () => {
    expect(executionChoice(withExecution({ engine: 'ccfaice', settings: {} }))).toEqual({});
    expect(executionChoice(withExecution(undefined))).toEqual({});
    expect(executionEngine(withExecution(undefined))).toBeUndefined();
  });

  test('ccagency: the default engine, with a note that CC-Agency is not used', () => {
    const c = executionChoice(withExecution({ engine: 'ccagency', settings: { batchConcurrencyLimit: 4 } }));
    expect(c.engine).toBeUndefined();
    expect(c.note).toBe(
      "execution.engine: ccagency names a CC-Agency server, which RED Lab does not submit to: the RED runs on RED Lab's default engine. To run it elsewhere, name a RED Lab engine in execution.engine (docker, docker-ssh, process, slurm, kubernetes)."
    );
  });

  test('an engine no one knows (an unvalidated document) throws, naming the known ones', () => {
    expect(() => executionEngine({ execution: { engine: 'nomad', settings: {} } })).toThrow(
      'execution.engine "nomad" is not an engine RED Lab knows: use ccfaice, ccagency, docker, docker-ssh, process, slurm, kubernetes'
    );
  });

  test('the engines RED Lab names are the schema enum less Curious Containers ones', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schema/red.schema.json'), 'utf8'));
    expect([...schema.definitions.execution.properties.engine.enum].sort()).toEqual(['ccagency', 'ccfaice', ...RED_LAB_ENGINES].sort());
  });

  test('typed settings and concurrency', () => {
    const s = withExecution({ engine: 'slurm', settings: { partition: 'debug', concurrency: 3 } });
    expect(slurmSettings(s)).toEqual({ partition: 'debug', concurrency: 3 });
    expect(kubernetesSettings(s)).toBeUndefined();
    expect(kubernetesSettings(withExecution({ engine: 'kubernetes', settings: { namespace: 'ml' } }))).toEqual({ namespace: 'ml' });
    expect(executionConcurrency(s)).toBe(3);
    expect(executionConcurrency(withExecution({ engine: 'kubernetes', settings: { concurrency: 7 } }))).toBe(7);
    expect(executionConcurrency(withExecution({ engine: 'ccagency', settings: { batchConcurrencyLimit: 5 } }))).toBe(5);
    expect(executionConcurrency(withExecution({ engine: 'slurm', settings: {} }))).toBeUndefined();
    expect(executionConcurrency(withExecution(undefined))).toBeUndefined();
  });

  test("the core's entry point exports them", () => {
    expect(core.executionEngine).toBe(executionEngine);
    expect(core.parseTimeLimit).toBe(parseTimeLimit);
    expect(core.forCuriousContainers).toBe(forCuriousContainers);
  });
});

describe('parseTimeLimit', () => {
  test.each([
    ['00:00:01', 1],
    ['00:30:00', 1800],
    ['02:00:00', 7200],
    ['2:00:00', 7200],
    ['48:00:00', 172800],
    ['0-00:00:30', 30],
    ['1-12:00:00', 129600],
    ['7-00:00:00', 604800],
    [' 01:00:00 ', 3600],
    ['365-00:00:00', 365 * 86400]
  ])('%j is %d seconds', (text, seconds) => {
    expect(parseTimeLimit(text)).toBe(seconds);
    expect(timeLimitProblem(text)).toBeUndefined();
  });

  test('two parts are ambiguous (Slurm: minutes:seconds): both readings offered', () => {
    const e = thrown(() => parseTimeLimit('90:00'));
    expect(e.message).toBe('time limit "90:00" is ambiguous: Slurm reads two parts as minutes:seconds');
    expect(e.fix).toBe('write all three parts: "00:90:00" for 90 minutes, or "90:00:00" for 90 hours');
  });

  test('a bare number has no unit', () => {
    const e = thrown(() => parseTimeLimit('30'));
    expect(e.message).toBe('time limit "30" has no unit: Slurm reads a bare number as minutes, Kubernetes as seconds');
    expect(e.fix).toBe('write "HH:MM:SS" or "D-HH:MM:SS": "00:30:00" for 30 minutes');
    expect(thrown(() => parseTimeLimit('1500')).fix).toBe('write "HH:MM:SS" or "D-HH:MM:SS": "1-01:00:00" for 1500 minutes');
  });

  test('minutes and seconds out of range or not two digits: the same time written right', () => {
    const e = thrown(() => parseTimeLimit('1:90:00'));
    expect(e.message).toBe('time limit "1:90:00": minutes and seconds are two digits each, 00 to 59');
    expect(e.fix).toBe('write it as "HH:MM:SS", i.e. "02:30:00"');
    expect(thrown(() => parseTimeLimit('1:5:0')).fix).toBe('write it as "HH:MM:SS", i.e. "01:05:00"');
  });

  test('hours after a day count are 0 to 23', () => {
    const e = thrown(() => parseTimeLimit('1-24:00:00'));
    expect(e.message).toBe('time limit "1-24:00:00": after a day count the hours are 0 to 23');
    expect(e.fix).toBe('write it as "D-HH:MM:SS", i.e. "2-00:00:00"');
  });

  test('zero, no limit, too long, nonsense', () => {
    expect(thrown(() => parseTimeLimit('0-00:00:00')).message).toBe('time limit "0-00:00:00" is zero, which Slurm reads as no limit at all');
    const u = thrown(() => parseTimeLimit('UNLIMITED'));
    expect(u.message).toBe('time limit "UNLIMITED" is not a limit');
    expect(u.fix).toBe("leave timeLimit out: the cluster's own limit applies");
    expect(thrown(() => parseTimeLimit('366-00:00:00')).message).toBe('time limit "366-00:00:00" is more than 365 days');
    expect(thrown(() => parseTimeLimit('99999999999999999:00:00')).message).toBe('time limit "99999999999999999:00:00" is more than 365 days');
    for (const text of ['', '1h', '01:00:00:00', '-01:00:00', '1-', 'a-01:00:00']) {
      expect(thrown(() => parseTimeLimit(text)).message).toBe(`time limit ${JSON.stringify(text)} is not "HH:MM:SS" or "D-HH:MM:SS"`);
    }
    expect(timeLimitProblem('1h')).toEqual({ message: 'time limit "1h" is not "HH:MM:SS" or "D-HH:MM:SS"', fix: expect.stringMatching(/^write "HH:MM:SS"/) });
  });

  test('formatTimeLimit writes what parseTimeLimit reads', () => {
    for (const s of [1, 59, 60, 3599, 3600, 86399, 86400, 129600, 365 * 86400]) expect(parseTimeLimit(formatTimeLimit(s))).toBe(s);
    expect(formatTimeLimit(129600)).toBe('1-12:00:00');
    expect(formatTimeLimit(7200)).toBe('02:00:00');
    expect(() => formatTimeLimit(1.5)).toThrow(RangeError);
  });
});

describe('Curious Containers and RED Lab extensions', () => {
  const slurm = () => withExecution({ engine: 'slurm', settings: { partition: 'debug', timeLimit: '01:00:00' } });

  test('isRedLabExtension: every RED Lab engine is one, Curious Containers engines are not', () => {
    for (const engine of RED_LAB_ENGINES) expect(isRedLabExtension({ execution: { engine, settings: {} } })).toBe(true);
    expect(isRedLabExtension(withExecution({ engine: 'ccfaice', settings: {} }))).toBe(false);
    expect(isRedLabExtension(withExecution({ engine: 'ccagency', settings: {} }))).toBe(false);
    expect(isRedLabExtension(withExecution(undefined))).toBe(false);
  });

  test('the message and the warning say what cc says', () => {
    expect(curiousContainersMessage(slurm())).toBe(
      'execution.engine: slurm is a RED Lab extension; Curious Containers (faice/agency) cannot run it: they refuse the file (execution-engine "slurm" not supported)'
    );
    expect(curiousContainersIssues(slurm())).toEqual([
      {
        path: 'execution.engine',
        message: 'slurm is a RED Lab extension; Curious Containers (faice/agency) cannot run it: they refuse the file (execution-engine "slurm" not supported)',
        fix: 'run it with RED Lab (redlab run), or for Curious Containers write execution: {engine: ccfaice, settings: {}} or leave execution out',
        severity: 'warning'
      }
    ]);
    expect(curiousContainersMessage(hello())).toBeUndefined();
    expect(curiousContainersIssues(hello())).toEqual([]);
  });

  test('forCuriousContainers leaves a RED Lab engine out, says so, and leaves the RED it was given alone', () => {
    const red = slurm();
    const before = JSON.stringify(red);
    const out = forCuriousContainers(red);
    expect('execution' in out.red).toBe(false);
    expect(out.warnings).toEqual([
      {
        path: 'execution',
        message:
          'slurm is a RED Lab extension; Curious Containers (faice/agency) cannot run it: they refuse the file (execution-engine "slurm" not supported); left out and its settings (partition, timeLimit), so Curious Containers runs the RED on its own machine (as with ccfaice)',
        fix: 'keep the RED as written to run it on that engine with RED Lab (redlab run)',
        severity: 'warning'
      }
    ]);
    expect(JSON.stringify(red)).toBe(before);
    const { execution: _dropped, ...rest } = red;
    expect(out.red).toEqual(rest);
    expect(forCuriousContainers(withExecution({ engine: 'process', settings: {} })).warnings[0].message).toMatch(/^process is a RED Lab extension; .*; left out, so Curious Containers runs/);
  });

  test('forCuriousContainers keeps a Curious Containers RED as it is (a copy), with no warning', () => {
    for (const red of [hello(), withExecution({ engine: 'ccagency', settings: { batchConcurrencyLimit: 2 } })]) {
      const out = forCuriousContainers(red);
      expect(out).toEqual({ red, warnings: [] });
      expect(out.red).not.toBe(red);
      expect(toSortedYaml(out.red)).toBe(toSortedYaml(red));
    }
  });

  test('for a batch RED, each file convert batches writes from it has no RED Lab engine', () => {
    const red = loadRed(fixture('training-batches.red.json')).red;
    red.execution = { engine: 'kubernetes', settings: { namespace: 'ml' } };
    const out = forCuriousContainers(red);
    expect(out.warnings.map(w => w.path)).toEqual(['execution']);
    const singles = splitBatches(out.red);
    expect(singles.length).toBeGreaterThan(1);
    for (const s of singles) expect(s.execution).toBeUndefined();
    // the RED Lab file itself keeps it
    expect(splitBatches(red).map(s => s.execution?.engine)).toEqual(singles.map(() => 'kubernetes'));
  });
});
