// Shapes of image builds: what the bridge asks for, what it gets back, the progress
// it streams, and how a build fails.

/** A file of a build context, given inline. `path` is relative, with `/`. */
export interface ContextFile {
  path: string;
  content: string | Buffer;
  /** Unix permission bits (default 0o644; 0o755 for scripts you RUN). */
  mode?: number;
}

/** Build from a Dockerfile, with an optional context (a tar archive, gzipped or not, or a list of files). */
export interface DockerfileSpec {
  dockerfile: string;
  context?: Buffer | ContextFile[];
}

/**
 * Build from an environment description (the files repo2docker/Binder know), on top of
 * `baseImage`. The bridge writes the Dockerfile (see `environmentDockerfile`).
 */
export interface EnvironmentSpec {
  environment: {
    /** pip requirements: installed with `pip install --no-cache-dir -r`. The base image needs pip. */
    requirementsTxt?: string;
    /** conda environment: merged into the base env by micromamba, mamba or conda, whichever the base image has. */
    environmentYml?: string;
    /** Debian/Ubuntu package names, one a line (`#` comments): installed with apt-get. */
    aptTxt?: string;
  };
  baseImage: string;
}

export type BuildSpec = DockerfileSpec | EnvironmentSpec;

export type { BuildProgressEvent, LocalImage } from '../../../src/red';
import type { BuildProgressEvent } from '../../../src/red';

export interface BuildOptions {
  onProgress?: (e: BuildProgressEvent) => void;
  /** Aborting closes the connection, which makes Docker cancel the build. */
  signal?: AbortSignal;
  /** Largest context (sum of file sizes, and the tar archive given) in bytes. Default 200 MiB. */
  maxContextBytes?: number;
  /** Build even when the tag exists (e.g. after the base image changed). Default false. */
  force?: boolean;
  /**
   * Do not reuse Docker's layer cache either: every step runs again (e.g. to get newer
   * apt or pip packages for the same spec). Implies `force`. Default false.
   */
  noCache?: boolean;
  /** Extra labels for the image (redlab.build=1 is always set). They do not enter the tag's hash. */
  labels?: Record<string, string>;
  /** How many output lines a BuildError keeps. Default 50. */
  errorTailLines?: number;
}

export interface BuildResult {
  /** `redlab-build:<16 hex>`: a hash over the Dockerfile and the context. */
  tag: string;
  /** Image ID (`sha256:…`). */
  id: string;
  /** True when the tag existed and nothing was built. */
  cached: boolean;
  /** The Dockerfile used (generated one for an environment spec). */
  dockerfile: string;
}

/** One local image (GET /images): the wire type, declared once in bridge-api.ts. */

/** A spec the bridge refuses before talking to Docker (bad path, too big, bad package name …). */
export class BuildSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildSpecError';
  }
}

/** Docker reported an error while building. */
export class BuildError extends Error {
  constructor(
    /** Docker's error message (e.g. `The command '/bin/sh -c make' returned a non-zero code: 2`). */
    readonly dockerError: string,
    /** The failing step (`Step 2/3 : RUN make`), when Docker got that far. */
    readonly step: string | undefined,
    /** The last output lines of that step. */
    readonly output: string[],
    readonly dockerfile: string
  ) {
    super(
      `image build failed${step ? ` at ${step}` : ''}: ${dockerError}` +
        (output.length ? `\n--- output of the step (last ${output.length} lines) ---\n${output.join('\n')}` : '')
    );
    this.name = 'BuildError';
  }
}
