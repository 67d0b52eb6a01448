/** A tiny HTTP client over Node's fetch, for talking to the service like any API consumer. */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is (for malformed JSON and wrong content types). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let body: string | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const response = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers, text };
  }

  get<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, options);
  }

  post<T = any>(path: string, body?: unknown, options: RequestOptions = {}) {
    return this.request<T>('POST', path, { ...options, body });
  }

  patch<T = any>(path: string, body?: unknown, options: RequestOptions = {}) {
    return this.request<T>('PATCH', path, { ...options, body });
  }

  async register(username: string, password = 'password123'): Promise<ApiResponse> {
    return this.post('/api/users/register', { username, password });
  }

  async login(username: string, password = 'password123'): Promise<string> {
    const response = await this.post('/api/users/login', { username, password });
    if (response.status !== 200) throw new Error(`login ${username} failed: ${response.status} ${response.text}`);
    return response.body.access_token;
  }

  /** Registers and logs in; returns the token. */
  async newUser(username: string): Promise<string> {
    const registered = await this.register(username);
    if (registered.status !== 201) throw new Error(`register ${username}: ${registered.status} ${registered.text}`);
    return this.login(username);
  }

  claim(token: string, couponName: string, extra: Record<string, unknown> = {}) {
    return this.post('/api/coupons/claim', { coupon_name: couponName, ...extra }, { token });
  }

  createCoupon(token: string, name: string, amount: number) {
    return this.post('/api/coupons', { name, amount }, { token });
  }
}
