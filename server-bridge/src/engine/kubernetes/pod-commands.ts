// What runs in a batch's pod besides the experiment, and what the bridge runs in it by exec.
// The manifest (job-manifest.ts) and the engine (kubernetes-engine.ts) both take these from here,
// so the paths the bridge execs against are the ones the pod has.
//
// The pod, in order:
//   1. init container `stage-inputs` (helper image): makes the control folder /redlab, and waits
//      until the bridge has streamed the staged inputs into it by exec (`stageCommand`: a tar of
//      /cc/inputs/... and /cc/outputs, cut to its byte count by `head -c`, so the end of the upload
//      never depends on the exec protocol closing stdin, which only v5.channel.k8s.io can);
//   2. container `main`: the experiment, with its argv as the RED's command line; only when the
//      RED keeps stdout/stderr as files (cli.stdout/cli.stderr, type stdout/stderr) is it wrapped
//      (`wrapCommand`): a static busybox the init container copied from the helper image tees the
//      stream into /redlab/streams and the log alike;
//   3. container `keep-outputs` (helper image): keeps the pod (and its emptyDirs) after `main`
//      has ended, until the bridge has copied /cc/outputs out by exec (`collectOutputsCommand`, a
//      tar stream on stdout) and says so (`releaseCommand`). A sidecar and not a keep-alive loop
//      in `main` because the experiment's end is then in the pod status the bridge watches (exit
//      code, OOMKilled) and the experiment's image needs no shell; exec and not a shared volume or
//      an upload because the API server is the only way into the pod the bridge is sure to have.
import { CONTAINER_INPUTS_DIR, CONTAINER_OUTPUTS_DIR } from '../../../../src/red';

export const STAGE_CONTAINER = 'stage-inputs';
export const MAIN_CONTAINER = 'main';
export const KEEPER_CONTAINER = 'keep-outputs';

/** The control folder (emptyDir) of the helpers: flags, the copied busybox, captured streams. */
export const CONTROL_DIR = '/redlab';
export const STAGED_FLAG = `${CONTROL_DIR}/staged`;
export const COLLECTED_FLAG = `${CONTROL_DIR}/collected`;
export const TOOLS_DIR = `${CONTROL_DIR}/bin`;
export const STREAMS_DIR = `${CONTROL_DIR}/streams`;
export const BUSYBOX = `${TOOLS_DIR}/busybox`;

// sh as PID 1 ignores SIGTERM unless it traps it: without the trap a deleted Job's helpers would
// hold the pod for the whole grace period.
const TRAP = "trap 'exit 143' TERM INT;";

/** The init container's script: control folders, the busybox for `wrapCommand` when asked, then wait for the inputs. */
export function stageScript(copyTools: boolean): string {
  return [
    TRAP,
    `mkdir -p ${TOOLS_DIR} ${STREAMS_DIR} && chmod 0777 ${STREAMS_DIR} || exit 1;`,
    copyTools ? `cp /bin/busybox ${BUSYBOX} || { echo 'the helper image has no /bin/busybox' >&2; exit 1; };` : '',
    `until [ -e ${STAGED_FLAG} ]; do sleep 1; done`
  ]
    .filter(Boolean)
    .join(' ');
}

/** The keeper's script: wait until the outputs were copied; then empty the inputs claim's folder of this batch, when there is one. */
export function keeperScript(clearInputs: boolean): string {
  return [
    TRAP,
    `until [ -e ${COLLECTED_FLAG} ]; do sleep 1; done;`,
    clearInputs ? `rm -rf ${CONTAINER_INPUTS_DIR}/* ${CONTAINER_INPUTS_DIR}/.[!.]* ${CONTAINER_INPUTS_DIR}/..?*;` : '',
    'exit 0'
  ]
    .filter(Boolean)
    .join(' ');
}

/** Exec in `stage-inputs`: reads exactly `bytes` of tar from stdin, unpacks it at / (into the mounted /cc folders), then lets the pod go on. */
export function stageCommand(bytes: number): string[] {
  return ['sh', '-c', `head -c "$1" | tar -xf - -C / && touch ${STAGED_FLAG}`, 'redlab-stage', String(bytes)];
}

/** Exec in `keep-outputs`: /cc/outputs as a tar stream on stdout, entries `outputs/...` (as container-files.ts's extractOutputs reads them). */
export function collectOutputsCommand(): string[] {
  return ['tar', '-cf', '-', '-C', CONTAINER_OUTPUTS_DIR.slice(0, CONTAINER_OUTPUTS_DIR.lastIndexOf('/')), CONTAINER_OUTPUTS_DIR.slice(CONTAINER_OUTPUTS_DIR.lastIndexOf('/') + 1)];
}

/** Exec in `keep-outputs`: the captured streams (files `stdout`, `stderr`, those kept) as a tar stream. */
export function collectStreamsCommand(streams: { stdout?: boolean; stderr?: boolean }): string[] {
  return ['tar', '-cf', '-', '-C', STREAMS_DIR, ...(['stdout', 'stderr'] as const).filter(s => streams[s])];
}

/** Exec in `keep-outputs`: the outputs are out, the pod may end. */
export function releaseCommand(): string[] {
  return ['touch', COLLECTED_FLAG];
}

// The wrapper runs in busybox's sh, which runs its own applets before the image's programs of the
// same name (grep, sort, ...): the program is looked up on the image's PATH here and run by its path.
const WRAPPER = [
  'B=' + BUSYBOX,
  'o=$1; e=$2; p=$3; shift 3',
  'case $p in */*) ;; *) f=; IFS=:; for d in $PATH; do if [ -f "$d/$p" ] && [ -x "$d/$p" ]; then f=$d/$p; break; fi; done; unset IFS;',
  '  [ -n "$f" ] || { echo "$p: not found on the image\'s PATH" >&2; exit 127; }; p=$f;; esac',
  `S=${STREAMS_DIR}`,
  'if [ "$o" = 1 ]; then $B mkfifo $S/.o && { $B tee $S/stdout <$S/.o & } && exec 1>$S/.o || exit 1; fi',
  'if [ "$e" = 1 ]; then $B mkfifo $S/.e && { $B tee $S/stderr <$S/.e >&2 & } && exec 2>$S/.e || exit 1; fi',
  '"$p" "$@"',
  'c=$?',
  'exec 1>&- 2>&-',
  'wait',
  '$B rm -f $S/.o $S/.e',
  'exit $c'
].join('\n');

/** `main`'s argv when streams are kept as files: the wrapper above, then the RED's command. */
export function wrapCommand(command: string[], streams: { stdout?: boolean; stderr?: boolean }): string[] {
  return [BUSYBOX, 'sh', '-c', WRAPPER, 'redlab-run', streams.stdout ? '1' : '0', streams.stderr ? '1' : '0', ...command];
}

/**
 * An argument as Kubernetes passes it through: it expands `$(NAME)` in command and args from the
 * container's env and turns `$$` into `$`, so every `$` is doubled to reach the program as written.
 */
export function escapeArgument(arg: string): string {
  return arg.split('$').join('$$');
}
