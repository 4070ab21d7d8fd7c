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
  { notebook: 'magics' },
  // papermill's own test notebooks (fixtures/papermill/SOURCES.md).
  { notebook: 'pm-simple-input', papermill: ['-p', 'msg', 'Hello'], runner: ['--msg', 'Hello'] },
  { notebook: 'pm-simple-output', papermill: ['-p', 'msg', 'Bonjour'], runner: ['--msg', 'Bonjour'] },
  { notebook: 'pm-blank-vscode' },
  { notebook: 'pm-broken' },
  { notebook: 'pm-broken1' },
  { notebook: 'pm-broken2' },
  { notebook: 'pm-complex-parameters' },
  { notebook: 'pm-line-magic-error' },
  { notebook: 'pm-nb-version-4-4', papermill: ['-p', 'var', '2'], runner: ['--var', '2'] },
  { notebook: 'pm-no-parameters', papermill: ['-p', 'msg', 'world'], runner: ['--msg', 'world'] },
  { notebook: 'pm-read-check' },
  { notebook: 'pm-report-mode-test', papermill: ['-p', 'a', '2', '-p', 'b', '40'], runner: ['--a', '2', '--b', '40'] },
  { notebook: 'pm-result-no-exec', papermill: ['-p', 'foo', '3', '-p', 'bar', 'goodbye'], runner: ['--foo', '3', '--bar', 'goodbye'] },
  { notebook: 'pm-s3-simple-notebook', papermill: ['-p', 'msg', 'Hello S3'], runner: ['--msg', 'Hello S3'] },
  { notebook: 'pm-simple-execute', papermill: ['-p', 'msg', 'Hello'], runner: ['--msg', 'Hello'] },
  { notebook: 'pm-sysexit' },
  { notebook: 'pm-sysexit0' },
  { notebook: 'pm-sysexit1' },
  { notebook: 'pm-systemexit' },
  { notebook: 'pm-test-autosave' },
  { notebook: 'pm-test-logging' },
  { notebook: 'pm-test-notebooknode-io' },
  // Real-world style notebooks: magics, typed parameters given as papermill's -p and -y type them, rich
  // output, warnings and errors. Each removes the files it writes: the three runs share one folder.
  { notebook: 'rw-data-analysis', papermill: ['-p', 'region', 'south', '-p', 'threshold', '8', '-p', 'verbose', 'True', '-y', 'weights: [0.25, 0.75]\nlimits: {high: 50, low: 5}'], runner: ['--region', 'south', '--threshold', '8', '--verbose', 'True', '--weights', '[0.25, 0.75]', '--limits', '{"high": 50, "low": 5}'] },
  { notebook: 'rw-shell-magics' },
  { notebook: 'rw-rich-display' },
  { notebook: 'rw-pretty-output' },
  { notebook: 'rw-warnings-stderr' },
  { notebook: 'rw-error-chained' },
  { notebook: 'rw-error-value' },
  { notebook: 'rw-sys-exit-3' },
  { notebook: 'rw-systemexit-message' },
  { notebook: 'rw-python-features' },
  { notebook: 'rw-empty-and-markdown' },
  { notebook: 'rw-param-retype', papermill: ['-p', 'n', '2.5', '-p', 'ratio', '3', '-p', 'flag', '1', '-p', 'label', '0x10', '-p', 'msg', 'None', '-p', 'limit', 'False'], runner: ['--n', '2.5', '--ratio', '3', '--flag', '1', '--label', '0x10', '--msg', 'None', '--limit', 'False'] },
  { notebook: 'rw-param-yaml', papermill: ['-y', 'xs: [3, 4, 5]\nopts: {a: 2, b: [true, null]}\nnames: []'], runner: ['--xs', '[3, 4, 5]', '--opts', '{"a": 2, "b": [true, null]}', '--names', '[]'] },
  { notebook: 'rw-param-annotated', papermill: ['-p', 'alpha', '2', '-p', 'max_iter', '50', '-p', 'name', 'tuned', '-p', 'enabled', 'False', '-y', 'weights: [0.1, 0.9]'], runner: ['--alpha', '2', '--max_iter', '50', '--name', 'tuned', '--enabled', 'False', '--weights', '[0.1, 0.9]'] },
  { notebook: 'rw-param-comments-only', papermill: ['-p', 'dataset', 'iris', '-p', 'epochs', '3'], runner: ['--dataset', 'iris', '--epochs', '3'] },
  { notebook: 'rw-param-new-names', papermill: ['-p', 'alpha', '1', '-p', 'beta', 'two', '-p', 'gamma', '3.0'], runner: ['--alpha', '1', '--beta', 'two', '--gamma', '3.0'] },
  { notebook: 'rw-param-strings', papermill: ['-p', 'text', 'it\'s "quoted" \\ back\nslash ü', '-p', 'path', '/data/in put', '-p', 'empty', '', '-p', 'neg', '-3', '-p', 'sci', '1e3', '-p', 'under', '1_000'], runner: ['--text', 'it\'s "quoted" \\ back\nslash ü', '--path', '/data/in put', '--empty', '', '--neg', '-3', '--sci', '1e3', '--under', '1_000'] },
  { notebook: 'rw-matplotlib-inline' },
  { notebook: 'rw-param-dict-order', papermill: ['-y', 'options: {b: 1, a: 2}'], runner: ['--options', '{"b": 1, "a": 2}'] },
  { notebook: 'rw-top-level-await' },
  { notebook: 'rw-asyncio-run' },
  { notebook: 'rw-functions-pretty' },
  { notebook: 'rw-input-prompt' },
  { notebook: 'rw-capture-env' }
];

/** IPython ends a cell that raises SystemExit with a `SystemExit` error output and this warning on stderr,
 * printed with the path and line of IPython's own interactiveshell.py, which an image without IPython lacks. */
const IPYTHON_EXIT_WARNING =
  "IPython's 'To exit: use 'exit', 'quit', or Ctrl-D.' UserWarning on stderr names IPython's own source file " +
  '(.../IPython/core/interactiveshell.py:LINE), which the stdlib execution has no IPython to name';
const EXIT_WITHOUT_ERROR =
  "IPython records sys.exit(0) as an error output (SystemExit: 0) plus a 'To exit: use exit, quit, or Ctrl-D' warning in a notebook " +
  'that papermill reports as successful (exit 0); the runner ends the same way (exit 0, later cells not run) without that error output, ' +
  'which would make a successful run look failed';

/** Cases allowed to differ from papermill, and why. A listed case that matches is reported, not failed. */
export const DELIBERATE_DIFFERENCES: Record<'stdlib' | 'ipython', Record<string, string>> = {
  // The runner's own execution (an image with python3 alone).
  stdlib: {
    'sys-exit-zero': EXIT_WITHOUT_ERROR,
    // sys.exit(), sys.exit(0) and a bare raise SystemExit: the same as sys-exit-zero.
    'pm-sysexit': EXIT_WITHOUT_ERROR,
    'pm-sysexit0': EXIT_WITHOUT_ERROR,
    'pm-systemexit': EXIT_WITHOUT_ERROR,
    // sys.exit(1), sys.exit(3), raise SystemExit('message'): the same error output and exit code 1; only the warning differs.
    'pm-sysexit1': IPYTHON_EXIT_WARNING,
    'rw-sys-exit-3': IPYTHON_EXIT_WARNING,
    'rw-systemexit-message': IPYTHON_EXIT_WARNING,
    'rw-asyncio-run':
      'ipykernel runs the cells inside its asyncio event loop, so asyncio.run() fails there (RuntimeError: asyncio.run() cannot be ' +
      'called from a running event loop; exit 1); the stdlib execution has no running loop and runs the coroutine (exit 0)',
    'rw-warnings-stderr':
      'a warning names the file of its code: the stdlib execution writes <code cell N>:LINE, ipykernel /tmp/ipykernel_PID/HASH.py:LINE, ' +
      'a file of a kernel process that the stdlib execution does not have',
    'pm-broken':
      "a SyntaxError's message names the cell's file: (<code cell 1>, line 1) in the stdlib execution, (685837578.py, line 1) " +
      "in ipykernel, whose compiler names a cell by a hash of its source; the runner's name says which cell to open",
    'pm-complex-parameters': "the same SyntaxError as pm-broken (a parameters cell that is not valid Python runs and raises, as in papermill); its message names the cell's file",
    'rw-input-prompt':
      'input() fails in both (StdinNotImplementedError, exit 1); the stdlib execution says to pass the value as a parameter ' +
      "instead of ipykernel's 'raw_input was called, but this frontend does not support input requests.'",
    'pm-line-magic-error':
      'a line magic that neither IPython nor the runner has fails the cell in both (exit 1); IPython writes only ' +
      "'UsageError: Line magic function `%undefined-line-magic` not found.' on stderr (no error output), the stdlib execution " +
      'an error output (MagicUsageError) that lists the magics it has and says what to do instead'
  },
  // A real IPython kernel run by nbclient, as papermill runs it.
  ipython: {}
};
