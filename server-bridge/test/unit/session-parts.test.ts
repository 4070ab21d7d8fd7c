// The parts of the bridge's SessionManager that need no Docker: the create request's
// checks (each refusal names its field), the event log (numbering, bounds, a late
// subscriber), the outputs (streams merged as Jupyter saves them, canonical-JSON hashes),
// the idle timeout setting, and which engines offer sessions.
import { createHash } from 'crypto';
import type { NotebookOutput, SessionEventMessage, SessionInfo } from '../../../src/red';
import { resolveBridgeOptions } from '../../src/bridge/config';
import { RequestError } from '../../src/bridge/service';
import { SessionEventLog } from '../../src/bridge/session-events';
import { describeIdle } from '../../src/bridge/session-manager';
import { canonicalJson, OutputRecorder, outputHash } from '../../src/bridge/session-outputs';
import { storedOutputs } from '../../src/store/stored-outputs';
import { gpuRequirement, parseSessionRequest } from '../../src/bridge/session-request';
import { DockerEngine } from '../../src/engine/docker';

function refusal(body: unknown): RequestError {
  try {
    parseSessionRequest(body);
  } catch (err) {
    if (err instanceof RequestError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('a session create request', () => {
  const ok = { image: 'redlab/debian-python:12', notebookPath: 'project/analysis.ipynb' };

  it('takes the fields, with the profile "default", and the notebook folder as the working directory', () => {
    expect(parseSessionRequest({ ...ok, ram: 2048, cpus: 1.5, gpus: { vramMin: 8000 }, env: { SEED: '1' } })).toEqual({
      image: ok.image,
      notebookPath: 'project/analysis.ipynb',
      folder: 'project',
      profile: 'default',
      ram: 2048,
      cpus: 1.5,
      gpus: { vramMin: 8000 },
      env: { SEED: '1' }
    });
    expect(parseSessionRequest({ ...ok, notebookPath: './a.ipynb', profile: 'gpu' })).toMatchObject({ notebookPath: 'a.ipynb', folder: '', profile: 'gpu' });
  });

  it('refuses a path that leaves the Jupyter root as forbidden (403), naming notebookPath', () => {
    for (const notebookPath of ['../x.ipynb', 'a/../../x.ipynb', '/etc/x.ipynb', 'a\\..\\..\\x.ipynb']) {
      expect(refusal({ ...ok, notebookPath })).toMatchObject({ status: 403, message: expect.stringMatching(/^notebookPath: /) });
    }
  });

  it('refuses each bad field with 422 naming it (and never echoes an env value)', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ image: '' }, 'image'],
      [{ image: 'two words' }, 'image'],
      [{ notebookPath: 3 }, 'notebookPath'],
      [{ notebookPath: '' }, 'notebookPath'],
      [{ ram: -1 }, 'ram'],
      [{ ram: 'lots' }, 'ram'],
      [{ ram: 1.5 }, 'ram'],
      [{ cpus: 0 }, 'cpus'],
      [{ gpus: {} }, 'gpus'],
      [{ gpus: { count: 0 } }, 'gpus.count'],
      [{ gpus: { count: 1.5 } }, 'gpus.count'],
      [{ gpus: { vramMin: 0 } }, 'gpus.vramMin'],
      [{ gpus: { memory: 8 } }, 'gpus'],
      [{ env: { '1BAD': 'x' } }, 'env'],
      [{ env: { 'A-B': 'x' } }, 'env'],
      [{ env: { TOKEN: 42 } }, 'env.TOKEN'],
      [{ profile: '' }, 'profile'],
      [{ engine: 7 }, 'engine']
    ];
    for (const [over, field] of cases) {
      const err = refusal({ ...ok, ...over });
      expect([err.status, err.message.startsWith(`${field}: `), (err.details?.issues?.[0] as { path: string }).path]).toEqual([422, true, field]);
      expect(err.details?.fix).toBeTruthy();
    }
    expect(refusal({ ...ok, env: { TOKEN: ['s3cr3t-value'] } }).message).not.toContain('s3cr3t-value');
    expect(refusal('text').status).toBe(400);
  });

  it('asks the GPU pool for a count, or count GPUs of at least vramMin each', () => {
    expect(gpuRequirement({ count: 2 })).toEqual({ vendor: 'nvidia', count: 2 });
    expect(gpuRequirement({ vramMin: 8000 })).toEqual({ vendor: 'nvidia', devices: [{ vramMin: 8000 }] });
    expect(gpuRequirement({ count: 2, vramMin: 8000 })).toEqual({ vendor: 'nvidia', devices: [{ vramMin: 8000 }, { vramMin: 8000 }] });
  });
});

describe('a session event log', () => {
  const info = { id: 's', state: 'idle' } as SessionInfo;
  const out = (text: string) => ({ type: 'output' as const, executionId: 'e', output: { output_type: 'stream' as const, name: 'stdout', text } });

  it('numbers events 1, 2, … and sends a subscriber what came after its since, then live', () => {
    const log = new SessionEventLog();
    for (const t of ['a', 'b', 'c']) log.push(out(t));
    const got: SessionEventMessage[] = [];
    const stop = log.subscribe(1, m => got.push(m), () => info);
    log.push(out('d'));
    stop();
    log.push(out('e'));
    expect(got.map(m => m.seq)).toEqual([2, 3, 4]);
    expect(log.lastSeq).toBe(5);
  });

  it('keeps the last N events (and no more bytes than its bound): an older since first gets the session as it is', () => {
    const log = new SessionEventLog(0, { events: 3, bytes: 1e9 });
    for (let i = 0; i < 10; i++) log.push(out(String(i)));
    expect(log.firstSeq).toBe(8);
    const got: SessionEventMessage[] = [];
    log.subscribe(2, m => got.push(m), () => info);
    expect(got.map(m => [m.seq, m.type])).toEqual([
      [7, 'session'],
      [8, 'output'],
      [9, 'output'],
      [10, 'output']
    ]);
    expect(got[0]).toMatchObject({ session: { id: 's', lastSeq: 10 } });

    const small = new SessionEventLog(0, { events: 1000, bytes: 2000 });
    for (let i = 0; i < 10; i++) small.push(out('x'.repeat(500)));
    expect(small.lastSeq - small.firstSeq + 1).toBeLessThan(3);
  });

  it('numbers on from a stored seq (a reattached session); a since from past it gets the session and all held', () => {
    const log = new SessionEventLog(40);
    log.push({ type: 'session', session: info });
    const got: SessionEventMessage[] = [];
    log.subscribe(55, m => got.push(m), () => info);
    expect(got.map(m => [m.seq, m.type])).toEqual([
      [40, 'session'],
      [41, 'session']
    ]);
  });

  it('reserves seqs in blocks before using them, so a log started from the stored ceiling numbers above all', () => {
    const reserved: number[] = [];
    const log = new SessionEventLog(0, undefined, c => reserved.push(c));
    for (let i = 0; i < 1001; i++) log.push(out('x'));
    expect(reserved).toEqual([1000, 2000]);
    const next = new SessionEventLog(reserved[reserved.length - 1]);
    expect(next.push(out('y')).seq).toBeGreaterThan(log.lastSeq);
  });

  it('drops a subscriber that throws (its connection is gone), and the others go on', () => {
    const log = new SessionEventLog();
    const good: number[] = [];
    log.subscribe(0, () => {
      throw new Error('closed');
    }, () => info);
    log.subscribe(0, m => good.push(m.seq), () => info);
    log.push(out('a'));
    log.push(out('b'));
    expect(good).toEqual([1, 2]);
  });
});

describe('an execution\'s outputs', () => {
  it('merges consecutive stream text of one name, as Jupyter saves it, and leaves the pushed objects as they were', () => {
    const recorder = new OutputRecorder();
    const outputs = recorder.outputs;
    const first = { output_type: 'stream' as const, name: 'stdout', text: 'a\n' };
    recorder.append(first);
    recorder.append({ output_type: 'stream', name: 'stdout', text: 'b\n' });
    recorder.append({ output_type: 'stream', name: 'stderr', text: 'oops\n' });
    recorder.append({ output_type: 'stream', name: 'stdout', text: 'c\n' });
    recorder.append({ output_type: 'display_data', data: { 'text/plain': '1' }, metadata: {} });
    recorder.append({ output_type: 'stream', name: 'stdout', text: 'd\n' });
    expect(outputs.map(o => [o.output_type, o.name, o.text])).toEqual([
      ['stream', 'stdout', 'a\nb\n'],
      ['stream', 'stderr', 'oops\n'],
      ['stream', 'stdout', 'c\n'],
      ['display_data', undefined, undefined],
      ['stream', 'stdout', 'd\n']
    ]);
    expect(first.text).toBe('a\n');
  });

  it('hashes the canonical JSON: keys sorted at every level, no spaces, whatever order they came in', () => {
    const a = { output_type: 'display_data', metadata: {}, data: { 'text/plain': 'x', 'image/png': 'AA==' } } as NotebookOutput;
    const b = { data: { 'image/png': 'AA==', 'text/plain': 'x' }, output_type: 'display_data', metadata: {} } as NotebookOutput;
    const canonical = '{"data":{"image/png":"AA==","text/plain":"x"},"metadata":{},"output_type":"display_data"}';
    expect(canonicalJson(a)).toBe(canonical);
    expect(outputHash(b)).toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(canonicalJson({ t: ['é', 1, null, true] })).toBe('{"t":["é",1,null,true]}');
  });

  it('keeps each merged output\'s hash as the text arrives: the same as hashing the whole canonical JSON, quotes, escapes and a pair split across pieces included', () => {
    const recorder = new OutputRecorder();
    const pieces = ['a "quoted"\n', 'tab\there \\ back', '\ud83d', '\ude00 smile\n', 'ctrl \u0001 \u2028 end\n'];
    for (const text of pieces) recorder.append({ output_type: 'stream', name: 'stdout', text });
    const open = recorder.hashes();
    expect(open).toEqual([outputHash({ output_type: 'stream', name: 'stdout', text: pieces.join('') })]);
    // A lone high surrogate left at the end is escaped as JSON.stringify escapes it.
    recorder.append({ output_type: 'stream', name: 'stdout', text: 'x\ud800' });
    recorder.append({ output_type: 'display_data', data: { 'text/plain': '1' }, metadata: {} });
    recorder.append({ output_type: 'stream', name: 'stderr', text: 'oops' });
    expect(recorder.hashes()).toEqual(recorder.outputs.map(outputHash));
    expect(recorder.hashes()[0]).not.toBe(open[0]);
  });

  it('stores a bounded copy: long streams cut in the middle with a line saying how much, short outputs as they are', () => {
    const head = 'H'.repeat(1000);
    const tail = 'T'.repeat(1000);
    const outputs: NotebookOutput[] = [
      { output_type: 'stream', name: 'stdout', text: head + 'M'.repeat(8000) + tail },
      { output_type: 'display_data', data: { 'text/plain': 'kept' }, metadata: {} },
      { output_type: 'stream', name: 'stderr', text: 'short\n' }
    ];
    const small = storedOutputs(outputs, 100_000);
    expect(small).toEqual({ outputs, leftOut: 0 });
    const { outputs: kept, leftOut } = storedOutputs(outputs, 2000);
    const text = kept[0].text as string;
    expect(text.startsWith('H'.repeat(900))).toBe(true);
    expect(text.endsWith('T'.repeat(900))).toBe(true);
    expect(text).toMatch(/\[… \d+ characters left out of the stored record; the output's hash is of all of it …\]/);
    expect(leftOut).toBe(10_000 - (text.length - text.match(/\n\[…[^\]]*\]\n/)![0].length));
    expect(kept[1]).toEqual(outputs[1]);
    expect(kept[2]).toEqual(outputs[2]);
    expect(outputs[0].text).toHaveLength(10_000);
  });
});

describe('sessions in the bridge settings and engines', () => {
  const resolve = (flags: Parameters<typeof resolveBridgeOptions>[0], env: NodeJS.ProcessEnv = {}) => resolveBridgeOptions(flags, env, '/tmp');

  it('stops idle sessions after 60 minutes unless --session-idle-timeout or REDLAB_SESSION_IDLE_TIMEOUT says otherwise (0: never)', () => {
    expect(resolve({}).sessionIdleTimeoutMs).toBe(3_600_000);
    expect(resolve({}, { REDLAB_SESSION_IDLE_TIMEOUT: '15' }).sessionIdleTimeoutMs).toBe(900_000);
    expect(resolve({ sessionIdleTimeout: 0 }, { REDLAB_SESSION_IDLE_TIMEOUT: '15' }).sessionIdleTimeoutMs).toBe(0);
    expect(() => resolve({ sessionIdleTimeout: -1 })).toThrow('--session-idle-timeout must be a number of minutes (0: never stop idle sessions), not -1');
    expect(() => resolve({}, { REDLAB_SESSION_IDLE_TIMEOUT: 'soon' })).toThrow(/^REDLAB_SESSION_IDLE_TIMEOUT must be a number of minutes/);
    expect([describeIdle(90_000), describeIdle(60_000), describeIdle(3_600_000), describeIdle(1500)]).toEqual(['2 minutes', '1 minute', '60 minutes', '2 seconds']);
  });

  it('a local Docker engine runs sessions; one that copies files (docker-ssh) cannot bind the notebook folder and does not', () => {
    const local = new DockerEngine({ workRoot: '/tmp/unused' });
    const remote = new DockerEngine({ workRoot: '/tmp/unused', files: 'copy', name: 'docker-ssh' });
    expect([local.capabilities.sessions, typeof local.sessions?.start]).toEqual([true, 'function']);
    expect([remote.capabilities.sessions, remote.sessions]).toEqual([false, undefined]);
  });
});
