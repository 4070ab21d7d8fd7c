// A small RED for run-record tests: `sh -c SCRIPT` with the File input `text_file` as $0, the
// File output out.txt and the folder output report/ (shared by the crate and drift route tests).
import { BUSYBOX } from './red';

/** A local-connector File input at `file`, as RED YAML flow text. */
export const localInput = (file: string) => `{ class: File, connector: { command: redlab-connector-local, access: { path: ${JSON.stringify(file)} } } }`;

/** The RED's text; `jobs`: its inputs and outputs (or batches), by default `text_file` from `inputFile`. */
export function shRed(script: string, inputFile: string, jobs = `inputs:\n  text_file: ${localInput(inputFile)}\noutputs: {}\n`): string {
  return `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, ${JSON.stringify(script)}]
  inputs:
    text_file: { type: File, inputBinding: { position: 0 } }
  outputs:
    out: { type: File, outputBinding: { glob: out.txt } }
    report: { type: Directory, outputBinding: { glob: report } }
${jobs}container:
  engine: docker
  settings: { image: { url: ${BUSYBOX} }, ram: 256 }
`;
}
