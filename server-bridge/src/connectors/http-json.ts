// red-connector-http-json, built in: as Curious Containers' connector of that name, red-connector-http
// for JSON documents. receive-file GETs (or access.method) the URL and refuses a body that is not JSON;
// send-file refuses a file that is not JSON and POSTs (or PUTs) it as application/json. Same access
// fields as red-connector-http. CC re-serialises the received document (json.load then json.dump);
// this keeps the bytes as the server sent them, so a RED's checksum of the server's file still holds.
import { readFile, rm, stat } from 'fs/promises';
import { fetchToFile, httpOutput, parseHttpAccess, redactUrl } from './http';
import { HostPolicy } from './host-policy';
import {
  ConnectorError,
  type ConnectorContext,
  type InputConnector,
  type InputStageRequest,
  type OutputConnector,
  type OutputSendRequest,
  type StagedInput
} from './types';

export const HTTP_JSON_CONNECTOR = 'red-connector-http-json';

/** JSON is parsed whole (as CC does): larger documents belong to red-connector-http. */
export const MAX_JSON_BYTES = 256 * 1024 * 1024;

/** Throws a ConnectorError naming `where` and `what` unless the file at `file` holds one JSON document. */
async function checkJsonFile(file: string, where: string, what: string): Promise<void> {
  const { size } = await stat(file);
  if (size > MAX_JSON_BYTES) {
    throw new ConnectorError(`${where} (${HTTP_JSON_CONNECTOR}): ${what} has ${size} bytes, more than the ${MAX_JSON_BYTES / 1024 / 1024} MiB a JSON document may have here; use red-connector-http for large files`);
  }
  try {
    JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConnectorError(`${where} (${HTTP_JSON_CONNECTOR}): ${what} is not valid JSON (${(err as Error).message}); use red-connector-http for other files`);
  }
}

/** red-connector-http-json (input and output, File only) reaching only the hosts `policy` allows. */
export function createHttpJsonConnectors(policy: HostPolicy = new HostPolicy()): { input: InputConnector; output: OutputConnector } {
  const plainOutput = httpOutput(policy, HTTP_JSON_CONNECTOR, 'application/json');
  const input: InputConnector = {
    command: HTTP_JSON_CONNECTOR,
    classes: ['File'],
    async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
      const where = `input ${req.label}`;
      const access = parseHttpAccess(req.value.connector.access, where, HTTP_JSON_CONNECTOR);
      await fetchToFile(access.url, req.dest, access, ctx, policy, where);
      try {
        await checkJsonFile(req.dest, where, `the answer of ${redactUrl(access.url)}`);
      } catch (err) {
        await rm(req.dest, { force: true });
        throw err;
      }
      return { hostPath: req.dest, copied: true };
    }
  };
  const output: OutputConnector = {
    command: HTTP_JSON_CONNECTOR,
    classes: ['File'],
    async send(req: OutputSendRequest, ctx: ConnectorContext): Promise<{ target: string }> {
      const where = `output ${req.key}`;
      // The access is checked first: a wrong field is named before the file is read.
      parseHttpAccess(req.access, where, HTTP_JSON_CONNECTOR);
      if (req.class === 'File') await checkJsonFile(req.hostPath, where, 'the output file');
      return plainOutput.send(req, ctx);
    }
  };
  return { input, output };
}
