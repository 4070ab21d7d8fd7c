// Projects: the pure RED core and the extension's pure modules, bridge unit tests
// (no Docker), the bridge (API, store, crash/load/drain, a real bridge process), the
// `redlab` command line run as a user runs it (built binary, real Docker), and
// engine integration tests against a real Docker engine (started by .ci/setup).
// tsconfig.test.json sets isolatedModules: ts-jest transpiles each file alone (fast; tsc checks types);
// .tsx too, so panel views render in tests (react-dom/server, no DOM needed).
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }];
const common = { transform: { '^.+\\.tsx?$': tsJest }, testEnvironment: 'node', rootDir: __dirname };
module.exports = {
  projects: [
    { ...common, displayName: 'core', testMatch: ['<rootDir>/src/**/__tests__/**/*.test.ts'] },
    { ...common, displayName: 'bridge-unit', testMatch: ['<rootDir>/server-bridge/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'bridge', testMatch: ['<rootDir>/server-bridge/test/bridge/**/*.test.ts'] },
    { ...common, displayName: 'cli', testMatch: ['<rootDir>/server-bridge/test/cli/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/server-bridge/test/integration/**/*.test.ts'], slowTestThreshold: 60 }
  ]
};
