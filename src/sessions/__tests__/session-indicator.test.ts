// The notebook toolbar's session indicator, rendered as JupyterLab renders it (React), without JupyterLab.
import * as React from 'react';
import { SessionIndicatorView, sessionTitle } from '../session-indicator-view';
import { sessionInfo } from './fake-session-api';

// react-dom ships no types here (no @types/react-dom): the one function used, typed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderToStaticMarkup } = require('react-dom/server') as { renderToStaticMarkup(element: React.ReactElement): string };

const render = (sessions: Parameters<typeof SessionIndicatorView>[0]['sessions']) => renderToStaticMarkup(React.createElement(SessionIndicatorView, { sessions, onStop: () => undefined }));

test('nothing without sessions; one chip per session with profile, state, GPUs and a stop button', () => {
  expect(render([])).toBe('');
  const html = render([
    { info: sessionInfo({ state: 'busy' }), connected: true },
    { info: sessionInfo({ id: 'S2', profile: 'gpu', state: 'idle', gpus: [{ index: 0, uuid: 'GPU-1', name: 'H200', memoryTotalMb: 143771, memoryUsedMb: 0 }] }), connected: false }
  ]);
  expect(html).toContain('data-redlab-session-state="busy"');
  expect(html).toContain('default · busy');
  expect(html).toContain('gpu · idle · GPU 0');
  expect(html).toContain('jp-RedLab-session-reconnecting');
  expect((html.match(/data-testid="redlab-session-stop"/g) ?? []).length).toBe(2);
});

test('a dead session shows why it ended, and its button dismisses it', () => {
  const chip = { info: sessionInfo({ state: 'dead', error: 'out of memory: raise ramMb' }), connected: false };
  expect(sessionTitle(chip)).toContain('Why it ended: out of memory: raise ramMb');
  expect(sessionTitle(chip)).not.toContain('Reconnecting');
  expect(render([chip])).toContain('aria-label="Dismiss session default"');
});
