// The panel's engine choice from GET /health: only available engines are offered, the
// user's choice, then the setting, then the bridge's default; the chosen engine's
// capabilities decide which sections show (GPUs, connectors, image builds).
import type { EngineInfo, HealthInfo } from '../../red';
import { docker, processEngine as process, remote } from './engine-fixtures';
import { connectorChoices } from '../views/connector-choices';
import { DEFAULT_INPUT_CONNECTORS, DEFAULT_OUTPUT_CONNECTORS, engineLabel, engineView, healthOf } from '../engines';

const health = (engines: EngineInfo[], defaultEngine = engines[0]?.name ?? ''): HealthInfo => ({
  status: 'ok',
  version: '1',
  docker: { reachable: true },
  gpus: [],
  engines,
  defaultEngine,
  runs: { queued: 0, running: 0, parallel: 1 }
});

test('only available engines are offered; the unavailable ones are listed with why', () => {
  const v = engineView(health([docker, remote, process]), []);
  expect(v.offered.map(e => e.name)).toEqual(['docker', 'process']);
  expect(v.unavailable.map(e => [e.name, e.error])).toEqual([['docker-ssh', 'host gpu-box unreachable']]);
  expect(v.chosen?.name).toBe('docker');
});

test('the choice: the user\'s, then the setting\'s, then the bridge\'s default, each only when available', () => {
  const h = health([docker, remote, process], 'process');
  expect(engineView(h, []).chosen?.name).toBe('process');
  expect(engineView(h, [undefined, 'docker']).chosen?.name).toBe('docker');
  expect(engineView(h, ['process', 'docker']).chosen?.name).toBe('process');
  // An engine that is not available, or not there at all, is passed over.
  expect(engineView(h, ['docker-ssh', 'nope']).chosen?.name).toBe('process');
  // The bridge's default not available: the first that is.
  expect(engineView(health([remote, process], 'docker-ssh'), []).chosen?.name).toBe('process');
  expect(engineView(health([remote]), ['docker-ssh']).chosen).toBeUndefined();
});

test('what the chosen engine cannot do is hidden: GPUs, image builds, connectors it lacks', () => {
  const h = health([docker, process]);
  expect(engineView(h, ['docker'])).toMatchObject({ gpus: true, imageBuilds: true, inputConnectors: ['redlab-connector-local', 'red-connector-http'] });
  const p = engineView(h, ['process']);
  expect(p).toMatchObject({ gpus: false, imageBuilds: false, inputConnectors: ['redlab-connector-local'] });
  expect(p.chosen?.note).toMatch(/^not isolated/);
  // No engine available: nothing to offer, and no GPU, build or connector controls.
  expect(engineView(health([remote]), [])).toMatchObject({ offered: [], gpus: false, imageBuilds: false, inputConnectors: [] });
});

test('before the bridge answered: no engine chosen, the sections as a Docker bridge has them', () => {
  expect(engineView(undefined, ['docker'])).toEqual({ offered: [], unavailable: [], gpus: true, inputConnectors: DEFAULT_INPUT_CONNECTORS, outputConnectors: DEFAULT_OUTPUT_CONNECTORS, mountConnectors: [], imageBuilds: true });
  expect(healthOf({ kind: 'unreachable', message: 'x' })).toBeUndefined();
  const h = health([docker]);
  expect(healthOf({ kind: 'no-engine', health: h, message: 'no docker' })).toBe(h);
});

test('labels say the version and, plainly, when an engine does not isolate runs', () => {
  expect(engineLabel(docker)).toBe('docker 26.1.5');
  expect(engineLabel(process)).toBe('process (not isolated)');
});

test('the connectors offered are the chosen engine\'s, in and out, each only for the classes it handles', () => {
  const sftpEngine: EngineInfo = { ...docker, name: 'lab', capabilities: { ...docker.capabilities, inputConnectors: ['redlab-connector-local', 'red-connector-ssh', 'red-connector-ftp'], outputConnectors: ['red-connector-http', 'red-connector-ssh'], mountConnectors: ['red-connector-ssh'] } };
  const h = health([docker, sftpEngine]);
  const lab = engineView(h, ['lab']);
  expect(lab.outputConnectors).toEqual(['red-connector-http', 'red-connector-ssh']);
  expect(lab.mountConnectors).toEqual(['red-connector-ssh']);
  expect(connectorChoices(lab.inputConnectors, 'File', 'receive').map(c => c.label)).toEqual(['local file path', 'SFTP (SSH)', 'FTP']);
  // HTTP sends files only: a folder output is offered SFTP alone.
  expect(connectorChoices(lab.outputConnectors, 'Directory', 'send').map(c => c.command)).toEqual(['red-connector-ssh']);
  // docker (the fixture) has no SFTP: an input that uses it stays shown, marked.
  const d = engineView(h, ['docker']);
  expect(d.outputConnectors).toEqual([]);
  expect(d.mountConnectors).toEqual([]);
  expect(connectorChoices(d.inputConnectors, 'File', 'receive', 'red-connector-ssh')).toEqual([
    { command: 'redlab-connector-local', label: 'local file path' },
    { command: 'red-connector-http', label: 'HTTP URL' },
    { command: 'red-connector-ssh', label: 'SFTP (SSH) (not on this engine)' }
  ]);
});
