// The Slurm engine's pure parts: the job script (every #SBATCH line and the ch-run line),
// Slurm's answers as parsed, a job's end in words, and the settings' checks.
import { buildJobScript, JobScriptError, minutesOf, shellQuote, type JobScriptSpec } from '../../src/engine/slurm/job-script';
import { gpusInGres, isFinalJobState, parseJobInfo, parseNodes, SlurmCommandError } from '../../src/engine/slurm/slurm-cli';
import { jobOutcome } from '../../src/engine/slurm/slurm-engine';
import { resolveSlurmSettings, SlurmSettingsError } from '../../src/engine/slurm/settings';

const W = '/shared/work/run-1/batch-0';
const spec = (over: Partial<JobScriptSpec> = {}): JobScriptSpec => ({
  jobName: 'redlab-run-1-0',
  comment: 'org.redlab.run=run-1,org.redlab.batch=0',
  command: ['sh', '-c', `echo "it's $HOME"; ls`, '/cc/inputs/text_file/in.txt'],
  imageDir: '/shared/work/charliecloud-images/abc',
  inputsDir: `${W}/inputs`,
  outputsDir: `${W}/outputs`,
  tmpDir: `${W}/tmp`,
  stdoutFile: `${W}/job/stdout`,
  stderrFile: `${W}/job/stderr`,
  exitFile: `${W}/job/exit-code`,
  workDir: W,
  settings: {},
  ...over
});

describe('buildJobScript', () => {
  it('writes the whole job: #SBATCH lines, $USER for ch-run, the container line, the exit code kept', () => {
    const script = buildJobScript(spec({ ramMb: 512, gpus: 2, settings: { partition: 'gpu', account: 'proj-7', qos: 'normal', timeLimit: '1-02:00:00', gpuGres: 'gpu:a100' } }));
    expect(script.split('\n')).toEqual([
      '#!/bin/sh',
      '# RED Lab: one batch of a RED, run in its image by Charliecloud (ch-run: no daemon, no root).',
      '#SBATCH --job-name=redlab-run-1-0',
      '#SBATCH --comment=org.redlab.run=run-1,org.redlab.batch=0',
      `#SBATCH --output=${W}/job/stdout`,
      `#SBATCH --error=${W}/job/stderr`,
      `#SBATCH --chdir=${W}`,
      '#SBATCH --nodes=1',
      '#SBATCH --ntasks=1',
      '#SBATCH --no-requeue',
      '#SBATCH --mem=512M',
      '#SBATCH --gres=gpu:a100:2',
      '#SBATCH --time=1-02:00:00',
      '#SBATCH --partition=gpu',
      '#SBATCH --account=proj-7',
      '#SBATCH --qos=normal',
      'USER="${USER:-$(id -un)}"',
      'export USER',
      `ch-run --unset-env='*' --set-env --set-env=HOME=/tmp --set-env="CUDA_VISIBLE_DEVICES=\${CUDA_VISIBLE_DEVICES:-}" -b ${W}/inputs:/cc/inputs -b ${W}/outputs:/cc/outputs -b ${W}/tmp:/tmp -c /cc/outputs /shared/work/charliecloud-images/abc -- sh -c 'echo "it'\\''s $HOME"; ls' /cc/inputs/text_file/in.txt`,
      'code=$?',
      `printf '%s\\n' "$code" > ${W}/job/exit-code.part && mv -f ${W}/job/exit-code.part ${W}/job/exit-code`,
      'exit "$code"',
      ''
    ]);
  });

  it('without GPUs, RAM or a time limit: no such lines; the wall-clock limit becomes --time in whole minutes', () => {
    const script = buildJobScript(spec({ wallClockLimitMs: 90_500 }));
    expect(script).not.toMatch(/--mem|--gres|CUDA_VISIBLE_DEVICES|--partition/);
    expect(script).toContain('#SBATCH --time=2\n');
    expect(minutesOf(1)).toBe(1);
    expect(minutesOf(60_000)).toBe(1);
  });

  it('the job name and comment cannot carry another option or line', () => {
    const script = buildJobScript(spec({ jobName: 'x\n#SBATCH --uid=0', comment: 'a b\nc' }));
    expect(script).toContain('#SBATCH --job-name=x__SBATCH_--uid_0\n');
    expect(script).toContain('#SBATCH --comment=a_b_c\n');
    expect(script.match(/^#SBATCH/gm)).toHaveLength(8);
  });

  it('refuses a folder whose path would need quoting in a job script, naming the setting', () => {
    expect(() => buildJobScript(spec({ workDir: '/shared/my work' }))).toThrow(JobScriptError);
    expect(() => buildJobScript(spec({ outputsDir: '/x/$(reboot)' }))).toThrow(/the outputs folder "\/x\/\$\(reboot\)" cannot go into a Slurm job script.*workDir setting/);
    expect(() => buildJobScript(spec({ command: [] }))).toThrow(/command line is empty/);
  });

  it('shell quoting keeps every argument one word, as written', () => {
    expect(shellQuote('plain-arg_1.txt')).toBe('plain-arg_1.txt');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('$(id)`x`;*')).toBe(`'$(id)\`x\`;*'`);
  });
});

describe("Slurm's answers", () => {
  it('reads a job: state, exit code and signal, node, reason', () => {
    const line =
      'JobId=42 JobName=redlab-x UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=0 ExitCode=3:0 RunTime=00:00:01 NodeList=node1 BatchHost=node1';
    expect(parseJobInfo(line)).toEqual({ id: '42', state: 'FAILED', exitCode: 3, reason: 'NonZeroExitCode', nodes: 'node1' });
    expect(parseJobInfo('JobId=43 JobState=CANCELLED Reason=None ExitCode=0:15 NodeList=(null)')).toEqual({ id: '43', state: 'CANCELLED', exitCode: 0, signal: 15 });
  });

  it('counts GPUs of a node from Gres and GresUsed, typed or not', () => {
    expect(gpusInGres('gpu:2')).toBe(2);
    expect(gpusInGres('gpu:a100:2(S:0-1),gpu:v100:1(S:0)')).toBe(3);
    expect(gpusInGres('gpu:a100:1(IDX:0),gpu:v100:0(IDX:N/A)')).toBe(1);
    expect(gpusInGres('mps:100,gpu:4')).toBe(4);
    expect(gpusInGres('(null)')).toBe(0);
    expect(gpusInGres(undefined)).toBe(0);
    const nodes = parseNodes('NodeName=n1 CPUTot=8 Gres=gpu:2 GresUsed=gpu:1(IDX:0) State=MIXED\nNodeName=n2 CPUTot=4 Gres=(null) GresUsed= State=DOWN+NOT_RESPONDING\n');
    expect(nodes).toEqual([
      { name: 'n1', state: 'MIXED', cpus: 8, gpus: 2, gpusAllocated: 1 },
      { name: 'n2', state: 'DOWN+NOT_RESPONDING', cpus: 4, gpus: 0, gpusAllocated: 0 }
    ]);
  });

  it('knows which states are final, and which refusals are worth another try', () => {
    expect(['COMPLETED', 'FAILED', 'CANCELLED', 'CANCELLED by 0', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL'].every(isFinalJobState)).toBe(true);
    expect(['PENDING', 'RUNNING', 'COMPLETING', 'CONFIGURING', 'SUSPENDED'].some(isFinalJobState)).toBe(false);
    expect(new SlurmCommandError('sbatch', 1, 'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation').transient).toBe(true);
    expect(new SlurmCommandError('sbatch', 1, 'sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying').transient).toBe(true);
    expect(new SlurmCommandError('sbatch', 1, 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified').transient).toBe(false);
  });
});

describe('how a job ended, in words', () => {
  const s = { timeLimit: '00:10:00' };
  it.each([
    [{ id: '1', state: 'COMPLETED', exitCode: 0 }, 'succeeded', undefined],
    [{ id: '1', state: 'FAILED', exitCode: 2 }, 'failed', /^the command exited with code 2; its stderr ends with:\nboom$/],
    [{ id: '1', state: 'TIMEOUT', exitCode: 0 }, 'failed', /Slurm stopped job 1 at its time limit \(00:10:00\); raise execution\.settings\.timeLimit/],
    [{ id: '1', state: 'OUT_OF_MEMORY', exitCode: 0 }, 'failed', /ran out of memory; raise container\.settings\.ram/],
    [{ id: '1', state: 'CANCELLED', exitCode: 0, reason: 'by admin' }, 'failed', /cancelled outside RED Lab/],
    [{ id: '1', state: 'NODE_FAIL', nodes: 'n3' }, 'failed', /the node of job 1 \(n3\) failed/],
    [{ id: '1', state: 'PREEMPTED' }, 'failed', /preempted/]
  ])('%j → %s', (info, state, error) => {
    const o = jobOutcome(info, s, 'boom\n');
    expect(o.state).toBe(state);
    if (error) expect(o.error).toMatch(error);
    else expect(o.error).toBeUndefined();
  });
});

describe('settings', () => {
  it('the RED goes over the site defaults; charliecloud is the runtime when none is named', () => {
    expect(resolveSlurmSettings({ partition: 'cpu', workDir: '/scratch/redlab' }, { partition: 'gpu' })).toEqual({ partition: 'gpu', workDir: '/scratch/redlab', runtime: 'charliecloud' });
  });

  it.each([
    [{ runtime: 'apptainer' }, 'execution.settings.runtime', /cannot start containers with apptainer on Slurm yet; use runtime: charliecloud/],
    [{ timeLimit: '90' }, 'execution.settings.timeLimit', /./],
    [{ workDir: 'relative/dir' }, 'execution.settings.workDir', /is not an absolute path/],
    [{ partition: 'gpu; reboot' }, 'execution.settings.partition', /is not a Slurm partition name/],
    [{ concurrency: 0 }, 'execution.settings.concurrency', /whole number of at least 1/],
    [{ submit: { host: 'login.hpc' } }, 'execution.settings.submit', /submitting over SSH is not built yet/],
    [{ restUrl: 'http://slurm:6820' }, 'execution.settings.restUrl', /slurmrestd is not built yet/]
  ])('%j is refused at %s', (fromRed, field, message) => {
    let err: unknown;
    try {
      resolveSlurmSettings({}, fromRed);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SlurmSettingsError);
    expect((err as SlurmSettingsError).field).toBe(field);
    expect((err as SlurmSettingsError).message).toMatch(message);
    expect((err as SlurmSettingsError).fix).toBeTruthy();
  });

  it("a bad site default names the engine's setting, not the RED", () => {
    expect(() => resolveSlurmSettings({ account: 'a b' }, {})).toThrow(/^the Slurm engine's account setting: "a b" is not a Slurm account name/);
  });
});
