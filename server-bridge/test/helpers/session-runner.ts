// A client of the session runner (jupyterlab_redlab/runner/redlab_session.py) for tests: spawns it
// (locally or inside `docker run -i`), writes JSON-line requests, collects the messages it sends
// with their arrival times, and keeps every stdout line that is not a JSON object (a protocol break).
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

export const SESSION_RUNNER = path.resolve(__dirname, '..', '..', '..', 'jupyterlab_redlab', 'runner', 'redlab_session.py');

/** The python3 that runs the runner locally (CI puts the project's .venv first on PATH). */
export const PYTHON = process.env.PYTHON ?? 'python3';

export interface RunnerMessage {
  type: string;
  id?: string | null;
  /** When it arrived (Date.now()). */
  at: number;
  [key: string]: unknown;
}

export interface NbOutput {
  output_type: string;
  [key: string]: unknown;
}

export interface Execution {
  id: string;
  /** Every message about this execution, in arrival order (status, outputs, done). */
  messages: RunnerMessage[];
  outputs: NbOutput[];
  done: RunnerMessage;
}

export class SessionRunnerClient {
  readonly messages: RunnerMessage[] = [];
  /** stdout lines that are not JSON objects: the protocol is broken when there is any. */
  readonly badLines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private buffer = '';
  private nextId = 1;
  private listeners: Array<() => void> = [];

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.take(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    this.exited.then(() => this.notify());
  }

  /** `python3 -u redlab_session.py` on this machine. */
  static local(): SessionRunnerClient {
    return new SessionRunnerClient(spawn(PYTHON, ['-u', SESSION_RUNNER], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && typeof (parsed as RunnerMessage).type === 'string') {
        this.messages.push({ ...(parsed as RunnerMessage), at: Date.now() });
      } else {
        this.badLines.push(line);
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners.slice()) listener();
  }

  /** Writes one request line (an object as JSON, or a raw line as given). */
  send(request: object | string): void {
    this.child.stdin!.write((typeof request === 'string' ? request : JSON.stringify(request)) + '\n');
  }

  /** The first message (from index `from` on) that satisfies `match`; rejects after `timeoutMs`. */
  waitFor(match: (m: RunnerMessage) => boolean, timeoutMs = 10000, from = 0): Promise<RunnerMessage> {
    return this.waitForCount(match, 1, timeoutMs, from);
  }

  /** The `count`-th message (from index `from` on) that satisfies `match`; rejects after
   * `timeoutMs`. Each message is looked at once, so a flood of messages stays cheap. */
  waitForCount(match: (m: RunnerMessage) => boolean, count: number, timeoutMs = 10000, from = 0): Promise<RunnerMessage> {
    let next = from;
    let seen = 0;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        for (; next < this.messages.length; next++) {
          if (match(this.messages[next]) && ++seen >= count) {
            finish();
            resolve(this.messages[next]);
            return;
          }
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          finish();
          reject(new Error(`the runner exited (${this.child.exitCode ?? this.child.signalCode}) before the message; stderr: ${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        const got = this.messages.slice(from, from + 50);
        reject(new Error(`${seen} of ${count} such messages within ${timeoutMs} ms; got ${this.messages.length - from}, the first: ${JSON.stringify(got)}; stderr: ${this.stderr}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
      };
      this.listeners.push(check);
      check();
    });
  }

  ready(timeoutMs = 10000): Promise<RunnerMessage> {
    return this.waitFor((m) => m.type === 'ready', timeoutMs);
  }

  /** Sends an execute request; returns its id at once. */
  start(code: string, cellId?: string): string {
    const id = `exec-${this.nextId++}`;
    this.send({ type: 'execute', id, code, ...(cellId ? { cellId } : {}) });
    return id;
  }

  /** Everything about execution `id` once its done message has come. */
  async finish(id: string, timeoutMs = 10000): Promise<Execution> {
    const done = await this.waitFor((m) => m.type === 'done' && m.id === id, timeoutMs);
    const messages = this.messages.filter((m) => m.id === id);
    const outputs = messages.filter((m) => m.type === 'output').map((m) => m.output as NbOutput);
    return { id, messages, outputs, done };
  }

  execute(code: string, timeoutMs = 10000): Promise<Execution> {
    return this.finish(this.start(code), timeoutMs);
  }

  async shutdown(timeoutMs = 10000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.send({ type: 'shutdown' });
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const result = await Promise.race([this.exited, timer]);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`the runner did not exit within ${timeoutMs} ms of shutdown`);
    }
    return result;
  }
}

/** The text of an execution's stream outputs of one name, joined. */
export function streamText(execution: Execution, name: 'stdout' | 'stderr' = 'stdout'): string {
  return execution.outputs
    .filter((o) => o.output_type === 'stream' && o.name === name)
    .map((o) => o.text as string)
    .join('');
}
