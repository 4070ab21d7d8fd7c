// The bridge's HTTP/WebSocket API: `createApp(service, config)`; see app.ts.
export { createApp, API_PREFIX, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BUILD_CONTEXT_BYTES } from './app';
export type { BridgeApp, HttpConfig } from './app';
export type { EventSocketOptions, EventSocketStats } from './events';
export type { LogConfig } from './logger';
export { createLogger, formatPretty, redactUrl } from './logger';
export { HttpError } from './errors';
export { MAX_JSON_DEPTH } from './body';
