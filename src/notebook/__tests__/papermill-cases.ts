// The notebooks the runner is compared with papermill on (papermill-differential.test.ts), and the
// documented differences. Each notebook is fixtures/papermill/<notebook>.ipynb; where one comes from
// another project, fixtures/papermill/SOURCES.md names it and its licence.

export interface Case {
  /** fixtures/papermill/<notebook>.ipynb */
  notebook: string;
  /** papermill's parameter options (`-p name value`, `-y yaml`). */
  papermill?: string[];
  /** The same values as the runner takes them (`--name value`; a list or dict as JSON). */
  runner?: string[];
}

export const CASES: Case[] = [
  { notebook: 'typed-params', papermill: ['-p', 'n', '5', '-p', 'x', '2.5', '-p', 'name', 'Ada', '-p', 'flag', 'True'], runner: ['--n', '5', '--x', '2.5', '--name', 'Ada', '--flag', 'True'] },
  { notebook: 'non-finite', papermill: ['-p', 'x', 'nan', '-p', 'y', 'inf'], runner: ['--x', 'nan', '--y', 'inf'] },
  { notebook: 'unknown-param', papermill: ['-p', 'extra', '7'], runner: ['--extra', '7'] },
  { notebook: 'list-param', papermill: ['-y', 'xs: [3, 4]'], runner: ['--xs', '[3, 4]'] },
  { notebook: 'no-params' },
  { notebook: 'no-params-cell' },
  { notebook: 'streams' },
  { notebook: 'display-data' },
  { notebook: 'execute-result' },
  { notebook: 'error-third-cell' },
  { notebook: 'sys-exit-zero' },
  { notebook: 'pretty-print' },
  { notebook: 'magics' }
];

/** Cases allowed to differ from papermill, and why. A listed case that matches is reported, not failed. */
export const DELIBERATE_DIFFERENCES: Record<'stdlib' | 'ipython', Record<string, string>> = {
  // The runner's own execution (an image with python3 alone).
  stdlib: {
    'sys-exit-zero':
      "IPython records sys.exit(0) as an error output (SystemExit: 0) plus a 'To exit: use exit, quit, or Ctrl-D' warning in a notebook " +
      'that papermill reports as successful (exit 0); the runner ends the same way (exit 0, later cells not run) without that error output, ' +
      'which would make a successful run look failed'
  },
  // A real IPython kernel run by nbclient, as papermill runs it.
  ipython: {}
};

