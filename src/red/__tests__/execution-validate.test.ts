// RED Lab's engines in `execution` (issue 13): what the validator accepts and how it refuses the rest
// (schema: unknown keys with a suggestion, enums, types; semantic-execution.ts: time limits, the shared
// folder, Slurm and Kubernetes names; semantic-variables.ts: no {{variables}} in engine settings).
import * as fs from 'fs';
import * as path from 'path';
import { parseRedText } from '../parse';
import { formatIssues, RedError, type RedIssue } from '../types';
import { loadRed, validateRed } from '../validate';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const base = (): any => JSON.parse(JSON.stringify(parseRedText(fixture('hello-echo.red.yml')).data));

function withExecution(execution: unknown): RedIssue[] {
  const d = base();
  d.execution = execution;
  return validateRed(d);
}

function only(issues: RedIssue[], p: string): RedIssue {
  expect(issues.map(i => i.path)).toEqual([p]);
  return issues[0];
}

const slurm = (settings: Record<string, unknown>) => withExecution({ engine: 'slurm', settings });
const kubernetes = (settings: Record<string, unknown>) => withExecution({ engine: 'kubernetes', settings });

describe('valid RED Lab engines', () => {
  test('slurm with every setting', () => {
    expect(
      slurm({
        partition: 'debug,gpu',
        account: 'proj-42',
        qos: 'normal',
        timeLimit: '1-12:00:00',
        runtime: 'charliecloud',
        workDir: '/shared/redlab',
        submit: { host: 'login.cluster.example.org', port: 2222, user: 'ann', identityFile: '~/.ssh/id_ed25519', knownHosts: '~/.ssh/known_hosts' },
        restUrl: 'http://slurm-head:6820',
        concurrency: 8,
        gpuGres: 'gpu:a100'
      })
    ).toEqual([]);
  });

  test('slurm and kubernetes with no settings, each runtime, hours beyond 23 without days', () => {
    expect(slurm({})).toEqual([]);
    expect(kubernetes({})).toEqual([]);
    for (const runtime of ['charliecloud', 'enroot', 'apptainer', 'podman', 'docker']) expect(slurm({ runtime })).toEqual([]);
    expect(slurm({ timeLimit: '48:00:00' })).toEqual([]);
  });

  test('kubernetes with every setting', () => {
    expect(
      kubernetes({
        namespace: 'research',
        context: 'kind-redlab',
        kubeconfig: '/home/ann/.kube/config',
        serviceAccount: 'redlab-runner',
        timeLimit: '00:30:00',
        ttlSecondsAfterFinished: 600,
        runAsUser: 1000,
        inputsClaim: 'big-data.v1',
        imagePullSecrets: ['registry-cred'],
        concurrency: 20
      })
    ).toEqual([]);
  });

  test('docker, docker-ssh and process take empty settings', () => {
    for (const engine of ['docker', 'docker-ssh', 'process']) expect(withExecution({ engine, settings: {} })).toEqual([]);
  });

  test('a batch RED with a RED Lab engine reads as one (loadRed, no warnings)', () => {
    const d = JSON.parse(fixture('training-batches.red.json'));
    d.execution = { engine: 'kubernetes', settings: { namespace: 'ml', concurrency: 2 } };
    const loaded = loadRed(JSON.stringify(d));
    expect(loaded.warnings).toEqual([]);
    expect(loaded.red.execution).toEqual({ engine: 'kubernetes', settings: { namespace: 'ml', concurrency: 2 } });
  });
});

describe('refused, with the fix', () => {
  test('an unknown slurm setting names the key and suggests the closest', () => {
    const i = only(slurm({ partiton: 'debug' }), 'execution.settings.partiton');
    expect(i.message).toBe('unknown key "partiton" in execution.settings');
    expect(i.fix).toBe('remove it; did you mean "partition"?');
    expect(only(slurm({ timelimit: '01:00:00' }), 'execution.settings.timelimit').fix).toBe('remove it; did you mean "timeLimit"?');
  });

  test('an unknown kubernetes setting, and one far from every key (the allowed keys listed)', () => {
    expect(only(kubernetes({ namepsace: 'x' }), 'execution.settings.namepsace').fix).toBe('remove it; did you mean "namespace"?');
    const far = only(kubernetes({ replicas: 3 }), 'execution.settings.replicas');
    expect(far.fix).toBe('remove it (allowed here: namespace, context, kubeconfig, serviceAccount, timeLimit, ttlSecondsAfterFinished, runAsUser, inputsClaim, imagePullSecrets, concurrency)');
  });

  test('a slurm setting given to kubernetes is unknown there', () => {
    expect(only(kubernetes({ partition: 'debug' }), 'execution.settings.partition').message).toBe('unknown key "partition" in execution.settings');
  });

  test('docker, docker-ssh and process refuse any setting', () => {
    const i = only(withExecution({ engine: 'docker-ssh', settings: { host: 'ssh://a' } }), 'execution.settings.host');
    expect(i.message).toBe('unknown key "host" in execution.settings');
  });

  test('submit: unknown keys (a password has no place), bad port', () => {
    const i = only(slurm({ submit: { host: 'login', password: 'x' } }), 'execution.settings.submit.password');
    expect(i.message).toBe('unknown key "password" in execution.settings.submit');
    expect(only(slurm({ submit: { hots: 'login' } }), 'execution.settings.submit.hots').fix).toBe('remove it; did you mean "host"?');
    expect(only(slurm({ submit: { hostname: 'login' } }), 'execution.settings.submit.hostname').fix).toBe('remove it (allowed here: host, port, user, identityFile, knownHosts)');
    expect(only(slurm({ submit: { port: 70000 } }), 'execution.settings.submit.port').message).toBe('must be at most 65535, found 70000');
  });

  test('a runtime RED Lab does not know, with did-you-mean', () => {
    const i = only(slurm({ runtime: 'singularity' }), 'execution.settings.runtime');
    expect(i.message).toBe('"singularity" is not allowed here: must be one of "charliecloud", "enroot", "apptainer", "podman", "docker"');
    expect(only(slurm({ runtime: 'apptainr' }), 'execution.settings.runtime').fix).toBe('did you mean "apptainer"?');
  });

  test('bad time limits, at execution.settings.timeLimit with the fix', () => {
    const ambiguous = only(slurm({ timeLimit: '02:00' }), 'execution.settings.timeLimit');
    expect(ambiguous.message).toBe('time limit "02:00" is ambiguous: Slurm reads two parts as minutes:seconds');
    expect(ambiguous.fix).toBe('write all three parts: "00:02:00" for 2 minutes, or "02:00:00" for 2 hours');
    const k = only(kubernetes({ timeLimit: '1 hour' }), 'execution.settings.timeLimit');
    expect(k.message).toBe('time limit "1 hour" is not "HH:MM:SS" or "D-HH:MM:SS"');
    expect(k.fix).toMatch(/^write "HH:MM:SS" or "D-HH:MM:SS"/);
    expect(only(slurm({ timeLimit: '00:00:00' }), 'execution.settings.timeLimit').message).toBe('time limit "00:00:00" is zero, which Slurm reads as no limit at all');
    // a number: the schema says quote it (a bare number is ambiguous, see execution.test.ts)
    const n = only(slurm({ timeLimit: 90 }), 'execution.settings.timeLimit');
    expect(n.message).toBe('must be a string, found the number 90');
  });

  test('the error names the line of timeLimit and the fix (loadRed)', () => {
    const text = fixture('hello-echo.red.yml').replace('engine: "ccfaice"\n  settings: {}', 'engine: "slurm"\n  settings:\n    timeLimit: "1-30:00:00"');
    expect(text).toContain('engine: "slurm"');
    let err: unknown;
    try {
      loadRed(text, { source: 'x.red.yml' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedError);
    const line = text.split('\n').findIndex(l => l.includes('timeLimit')) + 1;
    expect(formatIssues((err as RedError).issues, 'x.red.yml')).toBe(
      `error: x.red.yml:${line}: execution.settings.timeLimit: time limit "1-30:00:00": after a day count the hours are 0 to 23\n    fix: write it as "D-HH:MM:SS", i.e. "2-06:00:00"`
    );
  });

  test('workDir must be an absolute path of its own, without control characters', () => {
    const rel = only(slurm({ workDir: 'shared/redlab' }), 'execution.settings.workDir');
    expect(rel.message).toBe('workDir must be an absolute path (the nodes have no working folder of ours), found "shared/redlab"');
    expect(rel.fix).toBe('give the absolute path of a folder every node of the cluster mounts, e.g. /shared/redlab');
    expect(only(slurm({ workDir: '~/redlab' }), 'execution.settings.workDir').message).toBe('workDir "~/redlab" starts with ~, which is not expanded on the nodes');
    expect(only(slurm({ workDir: '/shared/../etc' }), 'execution.settings.workDir').message).toBe('workDir must not hold ".." segments, found "/shared/../etc"');
    expect(only(slurm({ workDir: '/shared\n#SBATCH --x' }), 'execution.settings.workDir').message).toMatch(/holds a control character/);
    expect(only(slurm({ workDir: '' }), 'execution.settings.workDir').message).toBe('must not be empty');
  });

  test('Slurm names: no spaces or line breaks (they reach the job script)', () => {
    const p = only(slurm({ partition: 'debug\n#SBATCH --uid=0' }), 'execution.settings.partition');
    expect(p.message).toBe('partition "debug\\n#SBATCH --uid=0" is not a Slurm name');
    expect(p.fix).toBe('use letters, digits, _, . and - (partitions separated by ","), as sinfo/sacctmgr show it');
    expect(only(slurm({ account: 'my account' }), 'execution.settings.account').fix).toBe('use letters, digits, _, . and -, as sinfo/sacctmgr show it');
    expect(only(slurm({ gpuGres: 'gpu:a100:2' }), 'execution.settings.gpuGres').message).toBe('gpuGres "gpu:a100:2" is not a GRES name');
  });

  test('restUrl: an http(s) URL without credentials in it', () => {
    expect(only(slurm({ restUrl: 'slurm-head:6820' }), 'execution.settings.restUrl').message).toBe('restUrl must be an http:// or https:// URL, found "slurm-head:6820"');
    const cred = only(slurm({ restUrl: 'https://ann:secret@slurm-head:6820' }), 'execution.settings.restUrl');
    expect(cred.message).toBe('restUrl must not hold credentials (user:password@): the RED is shared and kept in run records');
  });

  test('submit: host and user apart, no URL, no option-like host', () => {
    const i = only(slurm({ submit: { host: 'ann@login' } }), 'execution.settings.submit.host');
    expect(i.fix).toBe('write host: "login" and user: "ann"');
    expect(only(slurm({ submit: { host: 'ssh://login:22' } }), 'execution.settings.submit.host').message).toBe('host must be a host name or address, found the URL "ssh://login:22"');
    expect(only(slurm({ submit: { host: '-oProxyCommand=x' } }), 'execution.settings.submit.host').message).toBe('host "-oProxyCommand=x" is not a host name or address');
    expect(only(slurm({ submit: { user: '-l' } }), 'execution.settings.submit.user').message).toBe('user "-l" is not a user name');
  });

  test('Kubernetes names, with a suggestion', () => {
    const ns = only(kubernetes({ namespace: 'My_Lab' }), 'execution.settings.namespace');
    expect(ns.message).toBe('namespace "My_Lab" is not a Kubernetes name: lower case letters, digits and -, starting and ending with a letter or digit, at most 63 characters');
    expect(ns.fix).toBe('write the name as Kubernetes has it, e.g. "my-lab"');
    expect(only(kubernetes({ namespace: 'a.b' }), 'execution.settings.namespace').fix).toBe('write the name as Kubernetes has it, e.g. "a-b"');
    expect(only(kubernetes({ imagePullSecrets: ['ok', 'Not OK'] }), 'execution.settings.imagePullSecrets.1').message).toMatch(/^imagePullSecrets entry "Not OK" is not a Kubernetes name/);
    expect(only(kubernetes({ serviceAccount: '-' }), 'execution.settings.serviceAccount').fix).toBe('write the name as Kubernetes has it (lower case letters, digits, - and .)');
  });

  test('kubernetes numbers', () => {
    expect(only(kubernetes({ ttlSecondsAfterFinished: -1 }), 'execution.settings.ttlSecondsAfterFinished').message).toBe('must be at least 0, found -1');
    expect(only(kubernetes({ concurrency: 0 }), 'execution.settings.concurrency').message).toBe('must be at least 1, found 0');
    expect(only(kubernetes({ runAsUser: 'root' }), 'execution.settings.runAsUser').message).toBe('must be a whole number, found the string "root"');
  });

  test('settings are required, as for Curious Containers engines', () => {
    const i = only(withExecution({ engine: 'slurm' }), 'execution.settings');
    expect(i.message).toBe('missing required key "settings" in execution');
    expect(i.fix).toBe('add settings: {}');
  });

  test('an execution without engine is reported once, not once per engine', () => {
    expect(withExecution({ settings: { partition: 'debug' } }).map(i => i.path)).toEqual(['execution.engine']);
  });
});

describe('{{variables}} stay in access and auth objects', () => {
  test('not in slurm submit or kubernetes settings: they hold no secret', () => {
    const i = only(slurm({ submit: { host: 'login', user: '{{slurm_user}}' } }), 'execution.settings.submit.user');
    expect(i.message).toBe('{{variables}} are only allowed inside access or auth objects (connector access, image auth, execution access), found "{{slurm_user}}" in execution.settings.submit.user');
    expect(i.fix).toBe(
      "write the value itself here: RED Lab's engine settings are not filled from variables, and hold no secret (submit.identityFile names the key file; the key itself never goes in the RED)"
    );
    expect(only(kubernetes({ context: '{{ctx}}' }), 'execution.settings.context').message).toMatch(/only allowed inside access or auth objects/);
  });

  test('ccagency access still takes them', () => {
    expect(withExecution({ engine: 'ccagency', settings: { access: { url: '{{agency}}', auth: { username: 'me', password: '{{pw}}' } } } })).toEqual([]);
  });
});
