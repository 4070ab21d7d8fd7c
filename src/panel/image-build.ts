// "Build from this folder's requirements.txt / environment.yml": POST images/build
// with the environment files, its NDJSON progress folded into a BuildState the panel
// shows, the built tag at the end. The folding is pure; buildImage talks to the bridge.
import type { BridgeApi } from '../api';
import type { EnvironmentBuildRequest, ImageBuildLine } from '../red';
import { splitNdjson } from './ndjson';

/** The environment files a build reads (the wire's). */
export type EnvironmentFiles = EnvironmentBuildRequest['environment'];

export interface BuildState {
  status: 'running' | 'succeeded' | 'failed';
  /** The last lines of the build's output. */
  lines: string[];
  step?: string;
  stepIndex?: number;
  stepCount?: number;
  tag?: string;
  cached?: boolean;
  error?: string;
}

const LINES_KEPT = 200;

export function startBuild(): BuildState {
  return { status: 'running', lines: [] };
}

export function applyBuildLine(s: BuildState, value: unknown): BuildState {
  const v = value as ImageBuildLine;
  if (!v || typeof v !== 'object') return s;
  switch (v.type) {
    case 'build-progress':
      return {
        ...s,
        lines: [...s.lines, v.line].slice(-LINES_KEPT),
        step: v.step ?? s.step,
        stepIndex: v.stepIndex ?? s.stepIndex,
        stepCount: v.stepCount ?? s.stepCount
      };
    case 'result':
      return { ...s, status: 'succeeded', tag: v.tag, cached: v.cached };
    case 'error':
      return { ...s, status: 'failed', error: v.message, lines: [...s.lines, ...(v.output ?? [])].slice(-LINES_KEPT) };
    default:
      return s;
  }
}

/** A failed build in one line: the builder's own advice (`redlab: …`) when it gave one, else Docker's error, shortened. */
export function buildFailureSummary(s: BuildState): string {
  const advice = [...s.lines].reverse().find(l => /^redlab: /.test(l.trim()));
  if (advice) return advice.trim().replace(/^redlab: /, '');
  const error = (s.error ?? 'the build failed').split('\n')[0];
  return error.length > 240 ? `${error.slice(0, 240)}…` : error;
}

/** Streams a build; `onState` sees every step. Resolves with the final state (never throws). */
export async function buildImage(
  api: BridgeApi,
  env: EnvironmentFiles,
  baseImage: string,
  onState: (s: BuildState) => void,
  signal?: AbortSignal,
  engine?: string
): Promise<BuildState> {
  let state = startBuild();
  onState(state);
  try {
    const res = await api.buildImage({ environment: env, baseImage, ...(engine ? { engine } : {}) }, signal);
    if (!res.ok) {
      const text = await res.text();
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? message;
      } catch {
        if (text) message = text;
      }
      state = { ...state, status: 'failed', error: message };
      onState(state);
      return state;
    }
    const reader = res.body?.getReader();
    const decoder = new TextDecoder();
    let rest = '';
    const feed = (chunk: string) => {
      const r = splitNdjson(rest, chunk);
      rest = r.rest;
      for (const v of r.values) state = applyBuildLine(state, v);
      onState(state);
    };
    if (reader) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        feed(decoder.decode(value, { stream: true }));
      }
    } else {
      feed(await res.text());
    }
    feed(rest ? '\n' : '');
    if (state.status === 'running') {
      state = { ...state, status: 'failed', error: 'the build stopped without a result (the bridge closed the connection)' };
      onState(state);
    }
  } catch (err) {
    state = { ...state, status: 'failed', error: signal?.aborted ? 'cancelled' : (err as Error).message };
    onState(state);
  }
  return state;
}
