// Semantic checks of `execution.settings` of RED Lab's engines (slurm, kubernetes), beyond
// the shape the schema gives: time limits as parseTimeLimit reads them, the shared folder as an
// absolute path, and names as Slurm and Kubernetes take them. These values reach sbatch job
// scripts, SSH command lines and Kubernetes manifests, so what cannot be a name there is refused
// here, with the fix.
//
// Pure TypeScript: no DOM, no Node APIs.

import { timeLimitProblem } from './execution';
import type { IssueCollector } from './issue-collector';
import { hasDotDot } from './semantic-names';
import { isObj, type Obj } from './values';

const SETTINGS = 'execution.settings';

/** Slurm partition, account and QOS names as sites write them (no spaces, quotes or shell characters). */
const SLURM_NAME = /^[A-Za-z0-9_.-]+$/;
/** A GRES name, optionally with its type: gpu, gpu:a100. */
const GRES = /^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/;
const HOST = /^[A-Za-z0-9_.:[\]-]+$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Kubernetes names: a DNS-1123 label (namespaces), a DNS-1123 subdomain (most objects). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A value to check here: a non-empty string ({{variables}} are reported by semantic-variables.ts, type errors by the schema). */
function given(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && !v.includes('{{') && !v.includes('}}');
}

export function checkExecution(doc: Obj, ctx: IssueCollector): void {
  const exec = doc.execution;
  if (!isObj(exec) || !isObj(exec.settings)) return;
  const s = exec.settings;
  if (exec.engine === 'slurm') checkSlurm(s, ctx);
  else if (exec.engine === 'kubernetes') checkKubernetes(s, ctx);
}

function checkTimeLimit(s: Obj, ctx: IssueCollector): void {
  if (!given(s.timeLimit)) return;
  const problem = timeLimitProblem(s.timeLimit);
  if (problem) ctx.error(`${SETTINGS}.timeLimit`, problem.message, problem.fix);
}

function checkSlurm(s: Obj, ctx: IssueCollector): void {
  checkTimeLimit(s, ctx);
  const partitions = 'partitions separated by ","';
  for (const key of ['partition', 'account', 'qos'] as const) {
    const v = s[key];
    if (!given(v)) continue;
    const ok = key === 'partition' ? v.split(',').every(p => SLURM_NAME.test(p)) : SLURM_NAME.test(v);
    if (!ok) ctx.error(`${SETTINGS}.${key}`, `${key} ${JSON.stringify(v)} is not a Slurm name`, `use letters, digits, _, . and -${key === 'partition' ? ` (${partitions})` : ''}, as sinfo/sacctmgr show it`);
  }
  if (given(s.gpuGres) && !GRES.test(s.gpuGres)) {
    ctx.error(`${SETTINGS}.gpuGres`, `gpuGres ${JSON.stringify(s.gpuGres)} is not a GRES name`, 'write the name, or name:type, as gres.conf has it: e.g. gpu or gpu:a100 (RED Lab adds the count)');
  }
  if (given(s.workDir)) checkWorkDir(s.workDir, ctx);
  if (given(s.restUrl)) checkRestUrl(s.restUrl, ctx);
  if (isObj(s.submit)) checkSubmit(s.submit, ctx);
}

function checkWorkDir(dir: string, ctx: IssueCollector): void {
  const path = `${SETTINGS}.workDir`;
  const fix = 'give the absolute path of a folder every node of the cluster mounts, e.g. /shared/redlab';
  if (CONTROL.test(dir)) ctx.error(path, `workDir ${JSON.stringify(dir)} holds a control character (a line break, a tab, …)`, fix);
  else if (dir.startsWith('~')) ctx.error(path, `workDir ${JSON.stringify(dir)} starts with ~, which is not expanded on the nodes`, fix);
  else if (!dir.startsWith('/')) ctx.error(path, `workDir must be an absolute path (the nodes have no working folder of ours), found ${JSON.stringify(dir)}`, fix);
  else if (hasDotDot(dir)) ctx.error(path, `workDir must not hold ".." segments, found ${JSON.stringify(dir)}`, 'write the folder\'s own path, without ".."');
}

function checkRestUrl(url: string, ctx: IssueCollector): void {
  const path = `${SETTINGS}.restUrl`;
  const m = /^(https?):\/\/([^/?#\s]*)/i.exec(url);
  if (!m || m[2] === '' || /\s/.test(url)) {
    ctx.error(path, `restUrl must be an http:// or https:// URL, found ${JSON.stringify(url)}`, "write slurmrestd's base URL, e.g. http://slurm-head:6820");
  } else if (m[2].includes('@')) {
    ctx.error(path, 'restUrl must not hold credentials (user:password@): the RED is shared and kept in run records', "remove them: RED Lab gives slurmrestd its token from its own settings (SLURM_JWT), never from the RED");
  }
}

function checkSubmit(submit: Obj, ctx: IssueCollector): void {
  const at = `${SETTINGS}.submit`;
  const host = submit.host;
  if (given(host)) {
    if (host.includes('@')) ctx.error(`${at}.host`, `host ${JSON.stringify(host)} holds a user name`, `write host: ${JSON.stringify(host.slice(host.lastIndexOf('@') + 1))} and user: ${JSON.stringify(host.slice(0, host.lastIndexOf('@')))}`);
    else if (host.includes('://')) ctx.error(`${at}.host`, `host must be a host name or address, found the URL ${JSON.stringify(host)}`, 'write the host name alone (the port goes in submit.port)');
    else if (!HOST.test(host) || host.startsWith('-')) ctx.error(`${at}.host`, `host ${JSON.stringify(host)} is not a host name or address`, 'write the login node\'s name or address, e.g. login.cluster.example.org');
  }
  const user = submit.user;
  if (given(user) && !USER.test(user)) {
    ctx.error(`${at}.user`, `user ${JSON.stringify(user)} is not a user name`, 'write the user name on the login node: letters, digits, _, . and - (not starting with - or .)');
  }
}

function checkKubernetes(s: Obj, ctx: IssueCollector): void {
  checkTimeLimit(s, ctx);
  kubernetesName(s.namespace, `${SETTINGS}.namespace`, 'label', ctx);
  kubernetesName(s.serviceAccount, `${SETTINGS}.serviceAccount`, 'subdomain', ctx);
  kubernetesName(s.inputsClaim, `${SETTINGS}.inputsClaim`, 'subdomain', ctx);
  if (Array.isArray(s.imagePullSecrets)) s.imagePullSecrets.forEach((name, i) => kubernetesName(name, `${SETTINGS}.imagePullSecrets.${i}`, 'subdomain', ctx));
}

function kubernetesName(name: unknown, path: string, kind: 'label' | 'subdomain', ctx: IssueCollector): void {
  if (!given(name)) return;
  const max = kind === 'label' ? 63 : 253;
  const ok = (kind === 'label' ? DNS_LABEL : DNS_SUBDOMAIN).test(name) && name.length <= max;
  if (ok) return;
  const key = path.split('.').pop()!;
  const what = /^\d+$/.test(key) ? 'imagePullSecrets entry' : key;
  const allowed = kind === 'label' ? 'lower case letters, digits and -' : 'lower case letters, digits, - and .';
  const suggestion = name
    .toLowerCase()
    .replace(kind === 'label' ? /[^a-z0-9-]+/g : /[^a-z0-9.-]+/g, '-')
    .slice(0, max)
    .replace(/^[-.]+|[-.]+$/g, '');
  ctx.error(
    path,
    `${what} ${JSON.stringify(name)} is not a Kubernetes name: ${allowed}, starting and ending with a letter or digit, at most ${max} characters`,
    suggestion ? `write the name as Kubernetes has it, e.g. ${JSON.stringify(suggestion)}` : `write the name as Kubernetes has it (${allowed})`
  );
}
