// A stand-in for the bridge process in crash tests: runs one RED through
// DockerEngine.run (or SlurmEngine.run with "engine": "slurm" and "env") and writes every engine event as a JSON line to stdout (pipes
// are written synchronously on Linux, so what the parent has read is exactly what
// a store would have committed). The test SIGKILLs it mid-run. Like the bridge's
// store, it masks what it writes with the run's secrets (the engine does not mask).
//   node engine-child.js '{"red": "<yaml>", "dir": ..., "outdir": ..., "workRoot": ..., "runId": ..., "labels": {...}, "secrets": [...]}'
'use strict';
require('./ts-register');
const { DockerEngine } = require('../../src/engine');
const { SlurmEngine } = require('../../src/engine/slurm/slurm-engine');
const { loadRed } = require('../../../src/red/validate');
const { SecretMasker } = require('../../../src/red/mask');

const cfg = JSON.parse(process.argv[2]);
const masker = new SecretMasker();
for (const s of cfg.secrets || []) masker.add(s);
const write = obj => process.stdout.write(JSON.stringify(masker.maskValue(obj)) + '\n');
(cfg.engine === 'slurm' ? new SlurmEngine({ workRoot: cfg.workRoot, env: cfg.env }) : new DockerEngine({ workRoot: cfg.workRoot }))
  .run(
    {
      loaded: loadRed(cfg.red, { source: 'child.red.yml' }),
      baseDir: cfg.dir,
      outdir: cfg.outdir,
      allowedRoots: [cfg.dir],
      parallel: 1,
      leaveContainer: false,
      runId: cfg.runId,
      labels: cfg.labels
    },
    { onEvent: write }
  )
  .then(
    result => write({ type: 'x-result', result }),
    err => write({ type: 'x-error', message: String((err && err.stack) || err) })
  );
