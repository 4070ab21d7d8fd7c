// The one typed request wrapper for every call the frontend makes to the bridge.
// By default the bridge sits behind jupyter-server-proxy at <base_url>/redlab-bridge/,
// so ServerConnection brings Jupyter's auth and XSRF; a configured bridge URL
// (settings) is called directly with its token.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export const BRIDGE_PATH = 'redlab-bridge/api/v1';

export class BridgeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: { error?: string; issues?: { path: string; line?: number; message: string; fix?: string }[] }
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

export interface BridgeTarget {
  /** Empty: through Jupyter's proxy. Otherwise the bridge's own base URL (http://host:port). */
  url: string;
  token: string;
}

export class BridgeClient {
  constructor(
    private target: BridgeTarget = { url: '', token: '' },
    private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /**
   * ServerConnection gives every authenticated request `Content-Type: application/json`; a
   * DELETE through the proxy then arrives with that type and an empty body, which the bridge
   * refuses (415: the route takes no body). Requests without a body go without the header.
   */
  private bodylessSettings(): ServerConnection.ISettings {
    const base = this.settings;
    return {
      ...base,
      fetch: (input: RequestInfo, init?: RequestInit) => {
        if (input instanceof Request) input.headers.delete('Content-Type');
        return base.fetch.call(null, input, init);
      }
    };
  }

  configure(target: BridgeTarget): void {
    this.target = target;
  }

  /** Full URL of an API path (`runs/ID/outputs/x`), for links the browser opens itself. */
  url(endpoint: string): string {
    return this.target.url ? URLExt.join(this.target.url, 'api/v1', endpoint) : URLExt.join(this.settings.baseUrl, BRIDGE_PATH, endpoint);
  }

  wsUrl(endpoint: string): string {
    if (this.target.url) {
      const u = URLExt.join(this.target.url.replace(/^http/, 'ws'), 'api/v1', endpoint);
      return this.target.token ? `${u}${u.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.target.token)}` : u;
    }
    const u = URLExt.join(this.settings.wsUrl, BRIDGE_PATH, endpoint);
    return this.settings.token ? `${u}${u.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.settings.token)}` : u;
  }

  async request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
    const res = await this.fetch(endpoint, init);
    const text = await res.text();
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!res.ok) {
      const b = (typeof body === 'object' && body ? body : {}) as BridgeError['body'];
      throw new BridgeError(res.status, b?.error ?? (typeof body === 'string' && body ? body : `${res.status} ${res.statusText}`), b);
    }
    return body as T;
  }

  /** The raw response, for logs and downloads. */
  async fetch(endpoint: string, init: RequestInit = {}): Promise<Response> {
    try {
      if (this.target.url) {
        const headers = new Headers(init.headers);
        if (this.target.token) headers.set('Authorization', `Bearer ${this.target.token}`);
        return await fetch(this.url(endpoint), { ...init, headers });
      }
      // ServerConnection's default `cache: 'no-store'` appends a timestamp parameter
      // (`?1795309556404`), which the bridge refuses as an unknown query parameter (400);
      // `no-cache` still revalidates every time, without it.
      const method = (init.method ?? 'GET').toUpperCase();
      const bodyless = init.body === undefined && method !== 'GET' && method !== 'HEAD';
      return await ServerConnection.makeRequest(this.url(endpoint), { cache: 'no-cache', ...init }, bodyless ? this.bodylessSettings() : this.settings);
    } catch (err) {
      throw new BridgeError(0, `cannot reach the RED Lab bridge (${(err as Error).message})`);
    }
  }
}
