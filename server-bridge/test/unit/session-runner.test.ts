// The session runner (jupyterlab_redlab/runner/redlab_session.py) run for real with the local
// python3: its JSON-lines protocol, one namespace across executes, live streams, rich outputs,
// errors, interrupts, shell lines and refused magics.
import { spawnSync } from 'child_process';
import { PYTHON, SessionRunnerClient, streamText } from '../helpers/session-runner';

jest.setTimeout(30000);

describe('session runner', () => {
  let runner: SessionRunnerClient;

  beforeAll(async () => {
    runner = SessionRunnerClient.local();
    await runner.ready();
  });

  afterAll(async () => {
    await runner.shutdown();
  });

  afterEach(() => {
    // Nothing a cell writes may reach the protocol's stdout as a line of its own.
    expect(runner.badLines).toEqual([]);
  });

  it('says ready once, first, with its version, the python version and its pid', () => {
    const ready = runner.messages.filter((m) => m.type === 'ready');
    expect(ready).toHaveLength(1);
    expect(runner.messages[0]).toBe(ready[0]);
    expect(ready[0].runner).toBe('1');
    expect(ready[0].python).toMatch(/^3\.\d+\.\d+$/);
    expect(ready[0].pid).toBe(runner.child.pid);
  });

  it('keeps one namespace across executes, with status busy first and done last', async () => {
    const first = await runner.execute('x = 41');
    expect(first.done.status).toBe('ok');
    expect(first.outputs).toEqual([]);
    const second = await runner.execute('print(x + 1)');
    expect(second.messages.map((m) => m.type)).toEqual(['status', 'output', 'done']);
    expect(second.messages[0].state).toBe('busy');
    expect(second.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: '42\n' }]);
    expect(second.done.status).toBe('ok');
    expect(second.done.executionCount).toBe((first.done.executionCount as number) + 1);
  });

  it('streams printed lines as they are written, in order, before done', async () => {
    const run = await runner.execute('import time\nfor i in range(5):\n    print("line", i)\n    time.sleep(0.15)', 15000);
    const streams = run.messages.filter((m) => m.type === 'output');
    expect(streams.map((m) => (m.output as { text: string }).text).join('')).toBe(
      [0, 1, 2, 3, 4].map((i) => `line ${i}\n`).join('')
    );
    // Incremental: several messages, spread over the loop's time, not one batch at the end.
    expect(streams.length).toBeGreaterThanOrEqual(3);
    expect(streams[streams.length - 1].at - streams[0].at).toBeGreaterThanOrEqual(300);
    expect(run.done.at).toBeGreaterThanOrEqual(streams[streams.length - 1].at);
  });

  it('sends text without a newline within a short time, not at the end of the cell', async () => {
    const id = runner.start('import sys, time\nsys.stdout.write("partial")\ntime.sleep(1.5)\nprint(" end")');
    const partial = await runner.waitFor((m) => m.type === 'output' && m.id === id, 5000);
    const run = await runner.finish(id);
    expect((partial.output as { text: string }).text).toBe('partial');
    expect(run.done.at - partial.at).toBeGreaterThanOrEqual(1000);
    expect(streamText(run)).toBe('partial end\n');
  });

  it('captures os.write on fd 1 and 2 and child processes as streams without breaking the protocol', async () => {
    const run = await runner.execute(
      [
        'import os, subprocess, sys',
        'os.write(1, b"raw out\\n")',
        'os.write(2, b"raw err\\n")',
        'subprocess.run([sys.executable, "-c", "print(\'from child\'); import sys; print(\'child err\', file=sys.stderr)"])',
        'os.write(1, b\'{"type": "done", "id": "fake"}\\n\')',
        'print("after")'
      ].join('\n')
    );
    expect(run.done.status).toBe('ok');
    expect(streamText(run, 'stdout')).toBe('raw out\nfrom child\n{"type": "done", "id": "fake"}\nafter\n');
    expect(streamText(run, 'stderr')).toBe('raw err\nchild err\n');
    expect(runner.messages.some((m) => m.id === 'fake')).toBe(false);
  });

  it('gives the last expression as execute_result with the execution count, and `;` hides it', async () => {
    const run = await runner.execute('a = [1, 2]\na + [3]');
    expect(run.outputs).toEqual([
      { output_type: 'execute_result', execution_count: run.done.executionCount, data: { 'text/plain': '[1, 2, 3]' }, metadata: {} }
    ]);
    const hidden = await runner.execute('a + [3];');
    expect(hidden.outputs).toEqual([]);
    const none = await runner.execute('None');
    expect(none.outputs).toEqual([]);
    const underscore = await runner.execute('_');
    expect((underscore.outputs[0].data as Record<string, string>)['text/plain']).toBe('[1, 2, 3]');
  });

  it('offers _repr_html_ and _repr_png_ (base64), skipping a repr method that raises or returns None', async () => {
    const run = await runner.execute(
      [
        'class Table:',
        '    def _repr_html_(self): return "<table><tr><td>1</td></tr></table>"',
        '    def _repr_png_(self): return b"\\x89PNG\\r\\n\\x1a\\n"',
        '    def _repr_markdown_(self): raise ValueError("no markdown")',
        '    def _repr_svg_(self): return None',
        '    def __repr__(self): return "Table()"',
        'Table()'
      ].join('\n')
    );
    expect(run.outputs).toHaveLength(1);
    const result = run.outputs[0];
    expect(result.output_type).toBe('execute_result');
    const data = result.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['image/png', 'text/html', 'text/plain']);
    expect(data['text/html']).toBe('<table><tr><td>1</td></tr></table>');
    expect(Buffer.from(data['image/png'], 'base64')).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(data['text/plain']).toBe('Table()');
  });

  it('lets _repr_mimebundle_ win, as IPython does', async () => {
    const run = await runner.execute(
      [
        'class Both:',
        '    def _repr_mimebundle_(self, include=None, exclude=None): return {"text/html": "<i>bundle</i>", "application/json": {"a": 1}}',
        '    def _repr_html_(self): return "<b>method</b>"',
        'Both()'
      ].join('\n')
    );
    const data = run.outputs[0].data as Record<string, unknown>;
    expect(data['text/html']).toBe('<i>bundle</i>');
    expect(data['application/json']).toEqual({ a: 1 });
    expect(data['text/plain']).toMatch(/Both object/);
  });

  it('display() sends display_data in order with the printed text around it', async () => {
    const run = await runner.execute(
      'class H:\n    def _repr_html_(self): return "<p>shown</p>"\nprint("before")\ndisplay(H(), 7)\nprint("after")'
    );
    expect(run.outputs.map((o) => o.output_type)).toEqual(['stream', 'display_data', 'display_data', 'stream']);
    expect(run.outputs[0].text).toBe('before\n');
    expect((run.outputs[1].data as Record<string, string>)['text/html']).toBe('<p>shown</p>');
    expect(run.outputs[1].metadata).toEqual({});
    expect(run.outputs[2].data).toEqual({ 'text/plain': '7' });
    expect(run.outputs[3].text).toBe('after\n');
  });

  it("reports an exception with ename, evalue and a traceback naming the cell's lines, without the runner's frames", async () => {
    const run = await runner.execute('def boom():\n    raise ValueError("bad value")\n\nboom()');
    expect(run.done.status).toBe('error');
    expect(run.outputs).toHaveLength(1);
    const error = run.outputs[0];
    expect(error.output_type).toBe('error');
    expect(error.ename).toBe('ValueError');
    expect(error.evalue).toBe('bad value');
    const traceback = error.traceback as string[];
    const cell = `<cell ${run.done.executionCount}>`;
    expect(traceback).toContain(`  File "${cell}", line 4, in <module>`);
    expect(traceback).toContain(`  File "${cell}", line 2, in boom`);
    expect(traceback).toContain('    raise ValueError("bad value")');
    expect(traceback.join('\n')).not.toMatch(/redlab_session\.py/);
    // The namespace and the runner survive.
    expect(streamText(await runner.execute('print(x)'))).toBe('41\n');
  });

  it('reports a syntax error naming the cell', async () => {
    const run = await runner.execute('ok = 1\nif ok\n    pass');
    expect(run.done.status).toBe('error');
    expect(run.outputs[0].ename).toBe('SyntaxError');
    expect((run.outputs[0].traceback as string[]).join('\n')).toMatch(/<cell \d+>", line 2/);
  });

  it('interrupts a busy cell on SIGINT: KeyboardInterrupt, done aborted, the namespace kept', async () => {
    const id = runner.start('kept = "still here"\nprint("looping", flush=True)\nwhile True:\n    pass');
    await runner.waitFor((m) => m.type === 'output' && m.id === id);
    runner.child.kill('SIGINT');
    const run = await runner.finish(id);
    expect(run.done.status).toBe('aborted');
    const error = run.outputs[run.outputs.length - 1];
    expect(error.output_type).toBe('error');
    expect(error.ename).toBe('KeyboardInterrupt');
    // In the cell's own lines: the loop, or still the print whose output was seen (its flush may not have returned yet).
    expect((error.traceback as string[]).join('\n')).toMatch(/<cell \d+>", line [234]/);
    const next = await runner.execute('print(kept)');
    expect(next.done.status).toBe('ok');
    expect(streamText(next)).toBe('still here\n');
  });

  it('interrupts a shell command the cell runs, and ignores SIGINT while idle', async () => {
    const id = runner.start('print("go", flush=True)\n!sleep 30');
    await runner.waitFor((m) => m.type === 'output' && m.id === id);
    const sent = Date.now();
    runner.child.kill('SIGINT');
    const run = await runner.finish(id);
    expect(run.done.status).toBe('aborted');
    expect(run.done.at - sent).toBeLessThan(5000);
    runner.child.kill('SIGINT'); // idle now
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = await runner.execute('print("alive")');
    expect(streamText(next)).toBe('alive\n');
    expect(runner.child.exitCode).toBeNull();
  });

  it('keeps the protocol whole when SIGINT comes while a cell floods displays and prints', async () => {
    const id = runner.start('n = 0\nwhile True:\n    n += 1\n    display({"n": n})\n    print("x" * 200)');
    await runner.waitForCount((m) => m.id === id && m.type === 'output', 200, 20000);
    runner.child.kill('SIGINT');
    const run = await runner.finish(id, 20000);
    expect(run.done.status).toBe('aborted');
    expect(run.outputs[run.outputs.length - 1]).toMatchObject({ output_type: 'error', ename: 'KeyboardInterrupt' });
    expect(runner.badLines).toEqual([]);
    const next = await runner.execute('print(n > 0)');
    expect(next.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'True\n' }]);
  });

  it('sends what a thread writes after its cell ended with id null', async () => {
    const run = await runner.execute('import threading, time\nthreading.Timer(0.3, lambda: print("late", flush=True)).start()');
    expect(run.outputs).toEqual([]);
    const late = await runner.waitFor((m) => m.type === 'output' && (m.output as { text?: string }).text === 'late\n', 5000);
    expect(late.id).toBeNull();
    expect(late.at).toBeGreaterThanOrEqual(run.done.at);
  });

  it('reports sys.exit() in a cell as SystemExit without ending the runner', async () => {
    const run = await runner.execute('import sys\nsurvivor = 3\nsys.exit(2)');
    expect(run.done.status).toBe('error');
    expect(run.outputs).toHaveLength(1);
    expect(run.outputs[0].ename).toBe('SystemExit');
    expect(run.outputs[0].evalue).toBe('2');
    expect(streamText(await runner.execute('print(survivor)'))).toBe('3\n');
  });

  it('runs `!` lines in a shell with their output streamed, and `x = !cmd` as a list', async () => {
    const run = await runner.execute('!echo hi\nname = "there"\n!echo hello {name} && echo oops >&2\nlines = !printf "a\\nb\\n"\nlines');
    expect(run.done.status).toBe('ok');
    expect(streamText(run)).toBe('hi\nhello there\n');
    expect(streamText(run, 'stderr')).toBe('oops\n');
    expect((run.outputs[run.outputs.length - 1].data as Record<string, string>)['text/plain']).toBe("['a', 'b']");
  });

  it('translates %pwd, %cd, %env and %time', async () => {
    const run = await runner.execute('%cd /tmp\n%env REDLAB_TEST_VAR=abc\nimport os\nprint(os.environ["REDLAB_TEST_VAR"])\n%time total = sum(range(100))\n%pwd');
    expect(run.done.status).toBe('ok');
    const text = streamText(run);
    expect(text).toMatch(/^\/tmp\nenv: REDLAB_TEST_VAR=abc\nabc\nCPU times: user .*\nWall time: .*\n$/);
    expect((run.outputs[run.outputs.length - 1].data as Record<string, string>)['text/plain']).toBe("'/tmp'");
    expect(streamText(await runner.execute('print(total)'))).toBe('4950\n');
  });

  it('refuses %pip, %conda and unknown magics before running anything, naming the magic and the way out', async () => {
    const pip = await runner.execute('ran_before_pip = True\n%pip install requests');
    expect(pip.done.status).toBe('error');
    expect(pip.outputs).toHaveLength(1);
    expect(pip.outputs[0].ename).toBe('UsageError');
    expect(pip.outputs[0].evalue).toMatch(/`%pip` is not available in a RED Lab container session: install packages in the session's image/);
    const conda = await runner.execute('%conda install numpy');
    expect(conda.outputs[0].evalue).toMatch(/`%conda`.*image/);
    const other = await runner.execute('%%writefile x.txt\nhello');
    expect(other.outputs[0].evalue).toMatch(/`%%writefile`/);
    const unknown = await runner.execute('%who');
    expect(unknown.outputs[0].evalue).toMatch(/`%who` is not available/);
    const check = await runner.execute("'ran_before_pip' in globals()");
    expect((check.outputs[0].data as Record<string, string>)['text/plain']).toBe('False');
  });

  it('runs top-level await, as IPython does', async () => {
    const run = await runner.execute('import asyncio\nasync def twice(v):\n    await asyncio.sleep(0.01)\n    return 2 * v\nawait twice(21)');
    expect(run.done.status).toBe('ok');
    expect(run.outputs[0]).toMatchObject({ output_type: 'execute_result', data: { 'text/plain': '42' } });
  });

  it('leaves % and ! inside expressions and strings alone', async () => {
    const run = await runner.execute('m = 7 % 3\ns = """\n!not a shell line\n%not a magic\n"""\nprint(m, s.count("!"), 1 != 2)');
    expect(run.done.status).toBe('ok');
    expect(streamText(run)).toBe('1 1 True\n');
  });

  it('refuses input() with a clear message, and a cell cannot read the requests from stdin', async () => {
    const run = await runner.execute('input("name? ")');
    expect(run.done.status).toBe('error');
    expect(run.outputs[0].ename).toBe('StdinNotImplementedError');
    expect(run.outputs[0].evalue).toMatch(/input\(\) is not available in a RED Lab container session/);
    const stdin = await runner.execute('import sys\nsys.stdin.read()');
    expect((stdin.outputs[0].data as Record<string, string>)['text/plain']).toBe("''");
  });

  it('answers malformed requests with protocol-error and goes on', async () => {
    const from = runner.messages.length;
    runner.send('this is not json');
    runner.send('[1, 2]');
    runner.send({ type: 'nonsense' });
    runner.send({ type: 'execute', code: 'print(1)' });
    runner.send({ type: 'execute', id: 'no-code' });
    await runner.waitForCount((m) => m.type === 'protocol-error', 5, 10000, from);
    const errors = runner.messages.slice(from).filter((m) => m.type === 'protocol-error');
    expect(errors.map((m) => m.message)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/JSON object/),
      expect.stringMatching(/unknown request type 'nonsense'/),
      expect.stringMatching(/without "id"/),
      expect.stringMatching(/without "code"/)
    ]);
    expect(streamText(await runner.execute('print("still serving")'))).toBe('still serving\n');
  });

  it('draws matplotlib figures as PNG on plt.show() and at the end of the cell', async () => {
    const probe = spawnSync(PYTHON, ['-c', 'import matplotlib'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.warn(`matplotlib test skipped: ${PYTHON} has no matplotlib (${probe.stderr.trim().split('\n').pop()})`);
      return;
    }
    const run = await runner.execute(
      [
        'import matplotlib, matplotlib.pyplot as plt',
        'print(matplotlib.get_backend())',
        'plt.plot([1, 2, 3])',
        'plt.show()',
        'print("between")',
        'plt.figure(figsize=(2, 2)); plt.plot([3, 2, 1]);'
      ].join('\n'),
      30000
    );
    expect(run.done.status).toBe('ok');
    expect(run.outputs.map((o) => o.output_type)).toEqual(['stream', 'display_data', 'stream', 'display_data']);
    expect((run.outputs[0].text as string).toLowerCase()).toBe('agg\n');
    for (const figure of [run.outputs[1], run.outputs[3]]) {
      const data = figure.data as Record<string, string>;
      expect(data['text/plain']).toMatch(/^<Figure size \d+x\d+ with 1 Axes>$/);
      expect(Buffer.from(data['image/png'], 'base64').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    }
    const closed = await runner.execute('len(plt.get_fignums())');
    expect((closed.outputs[0].data as Record<string, string>)['text/plain']).toBe('0');
  });

  it('never imports matplotlib by itself', async () => {
    // The shared runner may have imported it for the plot test: a fresh one.
    const fresh = SessionRunnerClient.local();
    try {
      await fresh.ready();
      const check = await fresh.execute('import sys, os\n(sorted(m for m in sys.modules if m.startswith("matplotlib")), os.environ["MPLBACKEND"])');
      expect((check.outputs[0].data as Record<string, string>)['text/plain']).toBe("([], 'Agg')");
    } finally {
      await fresh.shutdown();
    }
  });
});

describe('session runner lifetime', () => {
  it('exits 0 on shutdown', async () => {
    const runner = SessionRunnerClient.local();
    await runner.ready();
    await runner.execute('y = 1');
    expect(await runner.shutdown()).toBe(0);
    expect(runner.badLines).toEqual([]);
  });

  it('exits at once on SIGTERM, even while a cell runs', async () => {
    const runner = SessionRunnerClient.local();
    await runner.ready();
    const id = runner.start('print("busy", flush=True)\nimport time\ntime.sleep(60)');
    await runner.waitFor((m) => m.type === 'output' && m.id === id);
    runner.child.kill('SIGTERM');
    expect(await runner.exited).toBe(143);
  });

  it('exits 0 when stdin ends', async () => {
    const runner = SessionRunnerClient.local();
    await runner.ready();
    runner.child.stdin!.end();
    expect(await runner.exited).toBe(0);
  });
});
