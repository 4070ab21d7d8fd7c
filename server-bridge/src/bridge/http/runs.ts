// /api/v1/runs: submit, list, read, cancel/delete, logs, output downloads and the run's crate as a zip.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as path from 'path';
import { PassThrough } from 'stream';
import { orcidUrl, type CitationOptions } from '../../../../src/red';
import { CrateZipError, planCrateZip, writeCrateZip } from '../../record/crate-zip';
import type { RunRecord } from '../../store/types';
import { isWithin } from '../../util/fs-safety';
import { ALL_STATES, isFinalState, type RunState } from '../../store/types';
import { isRunId } from '../../store/ids';
import type { RunService, SubmitInput } from '../service';
import { addJsonParser, addYamlParser, JSON_TYPES, JsonBody, YAML_TYPES, YamlBody } from './body';
import { HttpError } from './errors';
import { contentDisposition, findOutput, sendFile } from './files';
import { enumParam, flagParam, intParam, onlyParams, runIdParam, single, type Query } from './params';

/** Largest log slice one request returns. */
export const MAX_LOG_SLICE = 16 * 1024 * 1024;
const DEFAULT_LOG_SLICE = 1024 * 1024;

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
export const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

export function stringMap(v: unknown, what: string, max: number): Record<string, string> {
  if (!isPlainObject(v)) throw new HttpError(400, `${what} must be an object of text values ({"name": "value"}), not ${describe(v)}`);
  const keys = Object.keys(v);
  if (keys.length > max) throw new HttpError(400, `${what} has ${keys.length} entries, more than the limit of ${max}`);
  for (const k of keys) {
    if (typeof v[k] !== 'string') {
      throw new HttpError(400, `${what}.${k} must be text, not ${describe(v[k])}${typeof v[k] === 'number' || typeof v[k] === 'boolean' ? `: write it as "${String(v[k])}"` : ''}`);
    }
  }
  return v as Record<string, string>;
}

const WRAPPER_KEYS = ['red', 'variables', 'options'];
const OPTION_KEYS = ['parallel', 'labels', 'notebookPath', 'redPath', 'leaveContainer', 'engine'];

/** The service's input from a request body: a JSON wrapper, a bare JSON RED, or YAML text. */
export function submitInput(body: unknown): SubmitInput {
  if (body instanceof YamlBody) return { red: body.text };
  if (!(body instanceof JsonBody)) {
    throw new HttpError(400, 'the request has no body: send {"red": <RED>, "variables": {…}} as application/json, a RED document as JSON, or a RED as YAML with Content-Type: application/yaml');
  }
  const v = body.value;
  if (!isPlainObject(v)) {
    throw new HttpError(400, `the JSON body is ${describe(v)}: send an object, {"red": <RED>, "variables": {…}, "options": {…}} or the RED document itself`);
  }
  // A bare RED: pass its text on, so that issues keep their line numbers.
  if (Object.prototype.hasOwnProperty.call(v, 'redVersion')) return { red: body.text };
  for (const k of Object.keys(v)) {
    if (!WRAPPER_KEYS.includes(k)) {
      throw new HttpError(400, `unknown key ${JSON.stringify(k)} in the request: send {"red": …, "variables": …, "options": …}, or a RED document with redVersion at its top level`);
    }
  }
  if (!('red' in v)) {
    throw new HttpError(400, 'the request has no "red" (and no "redVersion", so it is not a RED itself): send {"red": <RED as an object or as YAML text>}');
  }
  const red = v.red;
  if (typeof red !== 'string' && !isPlainObject(red)) {
    throw new HttpError(400, `"red" must be the RED as an object or as YAML/JSON text, not ${describe(red)}`);
  }
  const input: SubmitInput = { red };
  if (v.variables !== undefined) input.variables = stringMap(v.variables, 'variables', 1000);
  if (v.options !== undefined) {
    const o = v.options;
    if (!isPlainObject(o)) throw new HttpError(400, `"options" must be an object, not ${describe(o)}`);
    const options: NonNullable<SubmitInput['options']> = {};
    for (const k of Object.keys(o)) {
      if (!OPTION_KEYS.includes(k)) throw new HttpError(400, `unknown option ${JSON.stringify(k)}: options are ${OPTION_KEYS.join(', ')}`);
    }
    if (o.parallel !== undefined) {
      // The service decides how many it allows; here only the type.
      if (typeof o.parallel !== 'number' || !Number.isSafeInteger(o.parallel) || o.parallel < 1) {
        throw new HttpError(400, `options.parallel must be a whole number >= 1 (batches run at once), not ${JSON.stringify(o.parallel)}`);
      }
      options.parallel = o.parallel;
    }
    if (o.labels !== undefined) options.labels = stringMap(o.labels, 'options.labels', 64);
    for (const k of ['notebookPath', 'redPath'] as const) {
      if (o[k] === undefined) continue;
      if (typeof o[k] !== 'string' || (o[k] as string).length > 4096 || (o[k] as string).includes('\0')) {
        throw new HttpError(400, `options.${k} must be a path as text (at most 4096 characters)`);
      }
      options[k] = o[k] as string;
    }
    if (o.leaveContainer !== undefined) {
      if (typeof o.leaveContainer !== 'boolean') throw new HttpError(400, `options.leaveContainer must be true or false, not ${describe(o.leaveContainer)}`);
      options.leaveContainer = o.leaveContainer;
    }
    if (o.engine !== undefined) {
      // Which engines exist is the service's to say (422 naming them); here only the type.
      if (typeof o.engine !== 'string' || !o.engine) throw new HttpError(400, `options.engine must be an engine's name as text (GET /health lists them), not ${typeof o.engine === 'string' ? 'empty text' : describe(o.engine)}`);
      options.engine = o.engine;
    }
    input.options = options;
  }
  return input;
}

function stateFilter(q: Query): RunState[] | undefined {
  const s = single(q, 'state');
  if (s === undefined) return undefined;
  const states = s.split(',').map(x => x.trim()).filter(Boolean);
  if (!states.length) throw new HttpError(400, `query parameter state is empty: give one or more of ${ALL_STATES.join(', ')} (comma-separated)`);
  for (const st of states) {
    if (!ALL_STATES.includes(st as RunState)) throw new HttpError(400, `unknown run state ${JSON.stringify(st.slice(0, 40))}: states are ${ALL_STATES.join(', ')}`);
  }
  return states as RunState[];
}

/** Largest ?maxInputMb: inputs are read twice (checked, then zipped) while the client waits. */
const MAX_BUNDLED_INPUT_MB = 10_240;

/**
 * The crate folder of batch `batch` of a finished run (its only one when it has one), the
 * inputs' sha256 as the run's own record has them (crate input key → sha256: key, or
 * key[i] for a list), and the zip's name.
 */
export function crateOf(run: RunRecord, batch: number | undefined): { dir: string; recordedInputs: Map<string, string>; name: string } {
  const batches = run.result?.batches ?? [];
  if (batch === undefined && batches.length > 1) {
    throw new HttpError(400, `run ${run.id} has ${batches.length} batches, each with its own crate: add ?batch=N (0 to ${batches.length - 1})`);
  }
  const b = batch === undefined ? batches[0] : batches.find(x => x.index === batch);
  if (batch !== undefined && !b && !(batch === 0 && batches.length === 0)) {
    throw new HttpError(404, `run ${run.id} has no batch ${batch}${batches.length ? `: batches are 0 to ${batches.length - 1}` : ''}`);
  }
  // As the engine wrote it (batch N of several: outputs_N); a run that failed before any batch has its record in outputs.
  const dir = b?.outdir || path.join(run.dir, batches.length > 1 ? `outputs_${b!.index}` : 'outputs');
  if (!isWithin(path.resolve(dir), run.dir)) throw new HttpError(409, `run ${run.id}'s outputs are not in the bridge's folder for it; the bridge serves only what it keeps there`);
  const recordedInputs = new Map<string, string>();
  for (const [key, rec] of Object.entries(b?.inputs ?? {})) {
    if (Array.isArray(rec)) rec.forEach((r, i) => r?.sha256 && recordedInputs.set(`${key}[${i}]`, r.sha256));
    else if (rec?.sha256) recordedInputs.set(key, rec.sha256);
  }
  return { dir, recordedInputs, name: `redlab-run-${run.id}${batches.length > 1 ? `-batch-${b!.index}` : ''}.zip` };
}

/** ?author=&affiliation=&orcid=&title= for the CITATION.cff and codemeta.json stubs. */
function citationParams(q: Query): CitationOptions {
  const opts: CitationOptions = {};
  for (const k of ['author', 'affiliation', 'title'] as const) {
    const v = single(q, k);
    if (v === undefined) continue;
    if (!v.trim() || v.length > 1000) throw new HttpError(400, `query parameter ${k} must be text of 1 to 1000 characters, or left out`);
    opts[k] = v;
  }
  const orcid = single(q, 'orcid');
  if (orcid !== undefined) {
    try {
      opts.orcid = orcidUrl(orcid, 'query parameter orcid');
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
  }
  return opts;
}

export function registerRunRoutes(app: FastifyInstance, service: RunService): void {
  const store = service.store;
  const exists = (id: string) => {
    const s = store.getSummary(id);
    if (!s) throw new HttpError(404, `no run ${id}: it does not exist or was deleted; GET /api/v1/runs lists runs`);
    return s;
  };

  // Submitting takes JSON and YAML; nothing else is read.
  app.register(async scope => {
    addJsonParser(scope);
    addYamlParser(scope);
    scope.post('/runs', { config: { accepts: [...JSON_TYPES, ...YAML_TYPES] } }, async (req: FastifyRequest, reply: FastifyReply) => {
      onlyParams(req.query as Query, []);
      const input = submitInput(req.body);
      const { id, state } = await service.submit(input);
      return reply.code(201).header('location', `/api/v1/runs/${id}`).send({ id, state });
    });
  });

  app.get('/runs', async req => {
    const q = req.query as Query;
    onlyParams(q, ['state', 'limit', 'cursor']);
    const state = stateFilter(q);
    const limit = intParam(q, 'limit', { min: 1, max: 1000, def: 50 });
    const cursor = single(q, 'cursor');
    if (cursor !== undefined && !isRunId(cursor)) throw new HttpError(400, 'query parameter cursor is not a cursor: pass the nextCursor of the previous page as it was');
    return store.listRuns({ state, limit, cursor });
  });

  app.get('/runs/:id', async req => {
    onlyParams(req.query as Query, []);
    const id = runIdParam(req.params);
    const run = store.getRun(id);
    if (!run) throw new HttpError(404, `no run ${id}: it does not exist or was deleted; GET /api/v1/runs lists runs`);
    return run;
  });

  app.delete('/runs/:id', async (req, reply) => {
    const q = req.query as Query;
    onlyParams(q, ['purge']);
    const id = runIdParam(req.params);
    const purge = flagParam(q, 'purge');
    const summary = exists(id);
    if (!isFinalState(summary.state)) {
      const r = await service.cancel(id);
      if (!r) throw new HttpError(404, `no run ${id}: it does not exist or was deleted`);
      const note = purge ? '; purge applies to finished runs only: DELETE again with ?purge=true once it is cancelled' : '';
      return reply.code(202).send({ id: r.id, state: r.state, message: `cancelling run ${id}${note}` });
    }
    if (!purge) {
      return reply.code(200).send({ id, state: summary.state, message: `run ${id} is ${summary.state} and is kept: DELETE with ?purge=true removes it, its logs and its outputs` });
    }
    if (!store.deleteRun(id, { purge: true })) throw new HttpError(404, `no run ${id}: it does not exist or was deleted`);
    return reply.code(204).send();
  });

  app.get('/runs/:id/logs', async (req, reply) => {
    const q = req.query as Query;
    onlyParams(q, ['stream', 'batch', 'since', 'maxBytes']);
    const id = runIdParam(req.params);
    const stream = enumParam(q, 'stream', ['stdout', 'stderr'] as const, 'stdout');
    const batch = intParam(q, 'batch', { min: 0, max: 1_000_000, def: 0 });
    const since = intParam(q, 'since', { min: 0, def: 0 });
    const maxBytes = intParam(q, 'maxBytes', { min: 1, max: MAX_LOG_SLICE, def: DEFAULT_LOG_SLICE });
    const summary = exists(id);
    if (isFinalState(summary.state) && summary.batchCount > 0 && batch >= summary.batchCount) {
      throw new HttpError(404, `run ${id} has no batch ${batch}: batches are 0 to ${summary.batchCount - 1}`);
    }
    const slice = store.readLog(id, { batch, stream, since, maxBytes });
    return reply
      .type('text/plain; charset=utf-8')
      .header('x-log-offset', String(slice.offset))
      .header('x-log-end', String(slice.end))
      .header('x-log-size', String(slice.size))
      .header('x-run-state', summary.state)
      .send(slice.data);
  });

  app.get('/runs/:id/outputs/:name', async (req, reply) => {
    const q = req.query as Query;
    onlyParams(q, ['batch', 'inline']);
    const id = runIdParam(req.params);
    const name = String((req.params as { name?: unknown }).name ?? '');
    const batch = intParam(q, 'batch', { min: 0, max: 1_000_000 });
    const inline = flagParam(q, 'inline');
    const run = store.getRun(id);
    if (!run) throw new HttpError(404, `no run ${id}: it does not exist or was deleted; GET /api/v1/runs lists runs`);
    return sendFile(req, reply, findOutput(run, name, batch), inline, run.dir);
  });

  // The run's shareable bundle: its crate with outputs, small local inputs, CITATION.cff and
  // codemeta.json (the zip `redlab export --zip` writes), streamed as it is made.
  app.get('/runs/:id/crate', async (req, reply) => {
    const q = req.query as Query;
    onlyParams(q, ['batch', 'maxInputMb', 'author', 'affiliation', 'orcid', 'title']);
    const id = runIdParam(req.params);
    const batch = intParam(q, 'batch', { min: 0, max: 1_000_000 });
    const maxInputMb = intParam(q, 'maxInputMb', { min: 0, max: MAX_BUNDLED_INPUT_MB, def: 100 });
    const citation = citationParams(q);
    const run = store.getRun(id);
    if (!run) throw new HttpError(404, `no run ${id}: it does not exist or was deleted; GET /api/v1/runs lists runs`);
    if (!isFinalState(run.state)) throw new HttpError(404, `run ${id} has no crate yet: it is ${run.state}, and its crate is written when it ends; ask again then`, { state: run.state });
    const { dir, recordedInputs, name } = crateOf(run, batch);
    let plan;
    try {
      plan = await planCrateZip(dir, { maxInputBytes: maxInputMb * 1024 * 1024, recordedInputs, leaveInputsOut: '?maxInputMb=0', citation });
    } catch (err) {
      if (!(err instanceof CrateZipError)) throw err;
      if (err.status === 404) throw new HttpError(404, `run ${id} (${run.state}) has no crate: none was written in its outputs folder (a run of a bridge from before run records, or its record could not be written: see its log)`);
      throw new HttpError(err.status, `run ${id}: ${err.message.replace(dir, 'its outputs folder')}`);
    }
    const body = new PassThrough();
    // Headers are sent by then: a failure (an input changed meanwhile) can only cut the download short, and is logged.
    writeCrateZip(plan, body).catch(err => req.log.warn({ err, runId: id }, 'the crate zip was cut short'));
    return reply
      .type('application/zip')
      .header('content-disposition', contentDisposition(name, false))
      .header('cache-control', 'private, no-store')
      .header('x-run-state', run.state)
      .send(body);
  });
}
