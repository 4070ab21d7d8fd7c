// Lets a plain `node` child process require the TypeScript sources directly
// (transpile-only, as ts-jest's isolatedModules does): tests that need a real
// second process (a bridge that is SIGKILLed) use it, so they never run a stale build.
//   node -r ./server-bridge/test/helpers/ts-register.js -e "require('./server-bridge/src/engine')"
'use strict';
const fs = require('fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2021,
  esModuleInterop: true,
  resolveJsonModule: true,
  sourceMap: false,
  inlineSourceMap: true
};

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const out = ts.transpileModule(source, { compilerOptions, fileName: filename });
  module._compile(out.outputText, filename);
};
