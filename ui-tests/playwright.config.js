// Playwright configuration of the RED Lab ui-tests: Galata's defaults, a JupyterLab
// started by start-jupyter.sh (fixed port, no token, a throw-away copy of binder/demo),
// and Debian's Chromium, headless; no browser is ever downloaded.
const os = require('os');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const PORT = Number(process.env.REDLAB_UI_PORT || 8988);
const BASE = process.env.REDLAB_UI_BASE || path.join(process.env.TMPDIR || os.tmpdir(), `redlab-ui-tests-${PORT}`);
const CHROMIUM = process.env.REDLAB_UI_CHROMIUM || '/usr/bin/chromium';
// Seen by the tests (tests/fixtures.ts) as well as by the web server.
process.env.REDLAB_UI_PORT = String(PORT);
process.env.REDLAB_UI_BASE = BASE;

module.exports = {
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results/artifacts',
  // A slow machine (2 cores) runs JupyterLab, the bridge, Docker and Chromium at once.
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reportSlowTests: null,
  reporter: [
    ['list'],
    ['html', { outputFolder: './test-results/report', open: 'never' }],
    ['json', { outputFile: './test-results/results.json' }]
  ],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1366, height: 850 },
    actionTimeout: 30_000,
    navigationTimeout: 90_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    // Video needs Playwright's own ffmpeg download: off.
    video: 'off',
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  // The smoke tests first; the flow runs only when they pass (JupyterLab, bridge and Docker up).
  projects: [
    { name: 'smoke', testMatch: /smoke\.spec\.ts$/ },
    { name: 'flow', testIgnore: /smoke\.spec\.ts$/, dependencies: ['smoke'] }
  ],
  webServer: {
    command: 'bash ./start-jupyter.sh',
    cwd: __dirname,
    url: `http://127.0.0.1:${PORT}/lab`,
    timeout: 180_000,
    // Only reuse a server started on purpose (REDLAB_UI_REUSE_SERVER=1 with start-jupyter.sh
    // running): a stranger's JupyterLab on this port must not be tested by mistake.
    reuseExistingServer: process.env.REDLAB_UI_REUSE_SERVER === '1',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 20_000 },
    stdout: 'ignore',
    stderr: 'pipe',
    env: { ...process.env, REDLAB_UI_PORT: String(PORT), REDLAB_UI_BASE: BASE }
  }
};
