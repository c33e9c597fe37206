/** An answer of the API that was not 2xx, carrying its `{"error":{code,message,details}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  url: string;
  apiKey?: string | undefined;
  fetch?: typeof fetch;
}

/** A thin fetch wrapper: base URL, Bearer key, JSON in and out, API errors as ApiError. */
export class ApiClient {
  readonly base: string;
  private readonly apiKey: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(o: ClientOptions) {
    this.base = o.url.replace(/\/+$/, '');
    this.apiKey = o.apiKey || undefined;
    this.fetchFn = o.fetch ?? fetch;
  }

  url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const u = new URL(this.base + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** The raw response (for streaming); throws ApiError on non-2xx and on network failure. */
  async send(method: string, url: string, init: { headers?: Record<string, string>; body?: unknown; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method, headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}), ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, 'unreachable', `cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!res.ok) throw await toApiError(res);
    return res;
  }

  async json<T>(method: string, path: string, opts: { query?: Record<string, string | number | undefined>; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; headers: Headers; body: T }> {
    const res = await this.send(method, this.url(path, opts.query), { ...(opts.headers ? { headers: opts.headers } : {}), ...(opts.body !== undefined ? { body: opts.body } : {}) });
    return { status: res.status, headers: res.headers, body: (await res.json()) as T };
  }
}

async function toApiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (error?.message) return new ApiError(res.status, error.code ?? 'error', error.message, error.details);
  } catch {
    // not our JSON error (a proxy's HTML page, say): report the status line
  }
  return new ApiError(res.status, 'http_error', `HTTP ${res.status} ${res.statusText}`.trim());
}
