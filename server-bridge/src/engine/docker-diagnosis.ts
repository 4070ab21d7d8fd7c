// Why a container did not do what was asked, in words and with what to do: Docker's
// refusal to start it (no NVIDIA runtime, a command not in the image) and the exit codes
// 126/127 that tini reports for a command it cannot run.
import type { BatchPlan } from './batch';
import { lastLines } from './batch';
import type { GpuSelection } from './gpu';

/** Exit 127/126: with --init, tini reports a command it cannot exec ("[FATAL tini (7)] exec X failed: …"). */
export function explainExecFailure(code: number, stderr: string, plan: BatchPlan, imageUrl: string): string {
  const exe = plan.command[0];
  const tini = /\[FATAL tini \(\d+\)\] exec (.+?) failed: (.+)/.exec(stderr);
  if (tini && /no such file/i.test(tini[2])) {
    return `the command ${exe} was not found in image ${imageUrl}: check cli.baseCommand and that the image has it (on its PATH). The container said: ${tini[0].trim()}`;
  }
  if (tini && /permission denied/i.test(tini[2])) {
    return `the command ${exe} is not executable in image ${imageUrl}: check cli.baseCommand. The container said: ${tini[0].trim()}`;
  }
  const tail = lastLines(stderr);
  return `the command exited with code ${code}${code === 127 ? ' (command not found?)' : ' (not executable?)'}${tail ? `; its stderr ends with:\n${tail}` : ''}`;
}

/** What to do when Docker cannot give containers NVIDIA GPUs (runs and sessions). */
export const NVIDIA_RUNTIME_FIX = 'install the NVIDIA Container Toolkit and restart Docker (`sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker`)';

/** Whether Docker refused a start because it has no NVIDIA runtime (`gpus`: GPUs were asked for). */
export function isNvidiaRefusal(msg: string, gpus: boolean): boolean {
  return /could not select device driver "nvidia"/i.test(msg) || (gpus && /nvidia/i.test(msg));
}

/** Docker's refusal to start a container, in words, with what to do. */
export function explainStartError(msg: string, plan: BatchPlan, gpus: GpuSelection | null, image: string): string {
  if (isNvidiaRefusal(msg, !!gpus)) {
    return (
      `the RED asks for ${gpus?.summary ?? 'GPUs'} (container.settings.gpus), but this Docker engine cannot give containers NVIDIA GPUs: ` +
      `${NVIDIA_RUNTIME_FIX}, or remove container.settings.gpus to run without GPUs. Docker said: ${msg}`
    );
  }
  const exe = plan.command[0];
  if (/executable file not found|no such file or directory/i.test(msg) && /exec/i.test(msg)) {
    return `the command ${exe} was not found in image ${image}: check cli.baseCommand and that the image has it (on its PATH). Docker said: ${msg}`;
  }
  if (/permission denied/i.test(msg) && /exec/i.test(msg)) {
    return `the command ${exe} is not executable in the image: check cli.baseCommand. Docker said: ${msg}`;
  }
  return `Docker could not start the container: ${msg}`;
}
