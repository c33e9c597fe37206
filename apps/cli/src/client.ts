/**
 * An answer that is not what the supervisor API answers, or no answer: `status` 0 when the API
 * could not be reached (or the connection dropped mid-answer), else the HTTP status. `body` is the
 * API's `{"error":{code,message,details}}` as it came, when it sent one.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly body?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A 2xx answer that is not the API's JSON (another web server at --url): not worth retrying. */
export class NotApiError extends ApiError {
  constructor(status: number, message: string) {
    super(status, 'not_supervisor_api', message);
    this.name = 'NotApiError';
  }
}

export interface ClientOptions {
  url: string;
  apiKey?: string | undefined;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

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

  url(path: string, query: Query = {}): string {
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
      throw this.unreachable(err);
    }
    if (!res.ok) throw await this.toApiError(res);
    return res;
  }

  /**
   * A JSON answer. `is` checks its shape: JSON that is not what the route answers (another JSON
   * service at --url) is a NotApiError rather than a TypeError deep in the printing.
   */
  async json<T>(method: string, path: string, opts: { query?: Query; headers?: Record<string, string>; body?: unknown; is?: (body: unknown) => boolean } = {}): Promise<{ status: number; headers: Headers; body: T }> {
    const res = await this.send(method, this.url(path, opts.query), { ...(opts.headers ? { headers: opts.headers } : {}), ...(opts.body !== undefined ? { body: opts.body } : {}) });
    return { status: res.status, headers: res.headers, body: await this.read<T>(res, opts.is) };
  }

  /** The JSON body of a 2xx answer, or a NotApiError that says what came instead. */
  async read<T>(res: Response, is: (body: unknown) => boolean = isObject): Promise<T> {
    const text = await this.text(res);
    const type = contentType(res);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new NotApiError(res.status, `${this.base} answered ${res.status} with ${type}, not JSON: is --url the supervisor API?`);
    }
    if (!is(body)) throw new NotApiError(res.status, `${this.base} answered ${res.status} with JSON the supervisor API does not answer there: is --url the supervisor API?`);
    return body as T;
  }

  private async text(res: Response): Promise<string> {
    try {
      return await res.text();
    } catch (err) {
      throw this.unreachable(err, 'lost the connection while reading the answer of');
    }
  }

  private unreachable(err: unknown, what = 'cannot reach'): ApiError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return new ApiError(0, 'unreachable', `${what} ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }

  private async toApiError(res: Response): Promise<ApiError> {
    const text = await this.text(res).catch(() => '');
    try {
      const { error } = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
      if (error?.message) return new ApiError(res.status, error.code ?? 'error', error.message, error.details, text);
    } catch {
      // not our JSON error (a proxy's HTML page, say): report the status line
    }
    const type = contentType(res);
    const line = `${res.status} ${res.statusText}`.trim();
    return new ApiError(res.status, 'http_error', `${this.base} answered HTTP ${line} with ${type}, not the supervisor API's JSON error`);
  }
}

/** The media type an answer says it has, for error lines. */
const contentType = (res: Response): string => res.headers.get('content-type')?.split(';')[0]?.trim() || 'no content type';

/** The API path of a run. */
export const runPath = (id: string): string => `/v1/runs/${encodeURIComponent(id)}`;

export const isObject = (b: unknown): b is Record<string, unknown> => typeof b === 'object' && b !== null && !Array.isArray(b);

/** Shapes of the answers the CLI prints from (enough that printing them cannot throw). */
export const shape = {
  run: (b: unknown) => isObject(b) && typeof b.run_id === 'string' && typeof b.graph === 'string' && typeof b.agent_id === 'string'
    && typeof b.status === 'string' && isObject(b.input) && Array.isArray(b.nodes),
  runPage: (b: unknown) => isObject(b) && Array.isArray(b.runs) && b.runs.every(shape.run),
  events: (b: unknown) => isObject(b) && typeof b.status === 'string' && Array.isArray(b.events) && b.events.every((e) => isObject(e) && typeof e.type === 'string'),
  graphs: (b: unknown) => isObject(b) && Array.isArray(b.graphs) && b.graphs.every((g) => isObject(g) && typeof g.name === 'string' && Array.isArray(g.nodes) && isObject(g.input_schema)),
};
