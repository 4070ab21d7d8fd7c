// Connectors move a RED input onto the host before the container starts, and an
// output from the host to where the RED says it goes. Built-in ones run in
// process; a later issue adds SFTP/SSH/FUSE ones behind the same interfaces.
import type { FileOrDirectory, ListingEntry } from '../../../src/red';
import type { RetryPolicy } from './retry';

/** How far one input's or output's transfer is (cumulative for that input/output, all its files). */
export interface TransferProgress {
  direction: 'input' | 'output';
  /** `key` or `key[index]` (inputs), the output key (outputs). */
  name: string;
  bytes: number;
  /** Bytes in all, when the source says. */
  total?: number;
  /** The transfer ended (succeeded). */
  done?: boolean;
}

/**
 * Where an input comes from, for the input cache: `source` names it without any secret
 * (connector, URL or host+port+user+path), `validator` is what the source says about this
 * version of it (HTTP ETag/Last-Modified/length, SFTP size+mtime, FTP size+MDTM). Two
 * identities equal in both are the same bytes.
 */
export interface SourceIdentity {
  source: string;
  validator: string;
}

export interface ConnectorContext {
  /** Folder of the RED file: relative local paths resolve against it. */
  baseDir: string;
  /** Real host folders local connectors may read from. */
  allowedRoots: readonly string[];
  signal?: AbortSignal;
  /** Progress notes for people (unmasked, as the connector's errors: the caller's sink masks, see RunRequest). */
  onInfo?: (message: string) => void;
  /** Bytes moved, per input/output (called often: the engine throttles what it turns into run events). */
  onProgress?: (p: TransferProgress) => void;
  /** Retries of transient failures (default DEFAULT_RETRY_POLICY). */
  retry?: Partial<RetryPolicy>;
  /** Test hook: a local input passed its root check (on the opened file) and is about to be pinned. */
  onChecked?: (checkedPath: string) => void | Promise<void>;
  /**
   * The container can write its inputs (a runtime without read-only binds: Charliecloud's ch-run):
   * a local input is always a copy of its own, never a hard link sharing the user's bytes. (Cached
   * inputs need nothing: a cache hit is checked against its sha256 before use.)
   */
  privateCopies?: boolean;
  /** The batch's image on a Docker engine of this host: connectors that are not built in run in it (engine/cc-connectors.ts). */
  experimentImage?: import('../engine/cc-connectors').ExperimentImage;
}

export interface InputStageRequest {
  /** Input name, as in `inputs.<key>`. */
  key: string;
  /** Position in a File[]/Directory[] input. */
  index?: number;
  /** `key` or `key[index]`, for messages. */
  label: string;
  value: FileOrDirectory;
  /** A host path the connector may create (its parent exists): where a copying connector puts the data. */
  dest: string;
}

export interface StagedInput {
  /** Host path to bind-mount (read-only) into the container. */
  hostPath: string;
  /** False when the data is used in place (local connector). */
  copied: boolean;
  /** The listing of a Directory, when the connector knows it. */
  listing?: ListingEntry[];
}

export interface InputConnector {
  readonly command: string;
  /** Classes this connector can receive. */
  readonly classes: readonly ('File' | 'Directory')[];
  stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput>;
  /** Checks the input's settings with its source before any input moves (validateConnectors); a throw fails the batch. */
  validate?(req: { label: string; value: FileOrDirectory }, ctx: ConnectorContext): Promise<void>;
  /**
   * Asks the source (a cheap HEAD/stat, no download) what version of the input it has, for
   * the input cache; undefined when the source gives no validator (then the input is not
   * cached). Throws as stage would (missing file, login refused).
   */
  identify?(req: InputStageRequest, ctx: ConnectorContext): Promise<SourceIdentity | undefined>;
}

export interface OutputSendRequest {
  key: string;
  class: 'File' | 'Directory';
  /** The output on the host (a file, or a folder for Directory). */
  hostPath: string;
  access: Record<string, unknown>;
}

export interface OutputConnector {
  readonly command: string;
  readonly classes: readonly ('File' | 'Directory')[];
  /** Sends the output; returns where it went (for the FileRecord; a URL without its user-info password). */
  send(req: OutputSendRequest, ctx: ConnectorContext): Promise<{ target: string }>;
  /** Checks the output's settings with its target before any input moves (validateConnectors). */
  validate?(req: { key: string; class: 'File' | 'Directory'; access: Record<string, unknown> }, ctx: ConnectorContext): Promise<void>;
}

/** A connector failure: the message names the input/output and what to check. */
export class ConnectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectorError';
  }
}
