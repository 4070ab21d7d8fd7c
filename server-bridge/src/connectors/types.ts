// Connectors move a RED input onto the host before the container starts, and an
// output from the host to where the RED says it goes. Built-in ones run in
// process; a later issue adds SFTP/SSH/FUSE ones behind the same interfaces.
import type { FileOrDirectory, ListingEntry } from '../../../src/red';

export interface ConnectorContext {
  /** Folder of the RED file: relative local paths resolve against it. */
  baseDir: string;
  /** Real host folders local connectors may read from. */
  allowedRoots: readonly string[];
  signal?: AbortSignal;
  /** Progress notes for people (unmasked, as the connector's errors: the caller's sink masks, see RunRequest). */
  onInfo?: (message: string) => void;
  /** Test hook: a local input passed its root check (on the opened file) and is about to be pinned. */
  onChecked?: (checkedPath: string) => void | Promise<void>;
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
}

/** A connector failure: the message names the input/output and what to check. */
export class ConnectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectorError';
  }
}
