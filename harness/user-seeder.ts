import * as bcrypt from 'bcrypt';
import { Client } from 'pg';
import { HttpAnswer, HttpPool, runBounded } from './http-pool';

export interface SaleUser {
  username: string;
  token: string;
}

/** Stress-only bcrypt cost for seeded users: see documentation/stress.md ("How users are made"). */
export const SEED_BCRYPT_COST = 4;

/**
 * Makes real accounts that log in through the real API. With database access, rows are
 * bulk-inserted with one precomputed bcrypt hash (cost 4, stress-only); without it, users
 * register through the API at the deployment's own cost (slow, but nothing special).
 * Either way every token comes from a real POST /api/users/login.
 */
export async function seedUsers(options: {
  http: HttpPool;
  databaseUrl: string | null;
  prefix: string;
  count: number;
  password: string;
  concurrency: number;
}): Promise<{ users: SaleUser[]; method: 'bulk-insert' | 'api-register' }> {
  const usernames = Array.from({ length: options.count }, (_, i) => `${options.prefix}${i}`);
  let method: 'bulk-insert' | 'api-register';
  if (options.databaseUrl) {
    const hash = await bcrypt.hash(options.password, SEED_BCRYPT_COST);
    const db = new Client({ connectionString: options.databaseUrl });
    await db.connect();
    try {
      await db.query(
        `INSERT INTO users (username, password_hash, role)
         SELECT unnest($1::text[]), $2, 'user' ON CONFLICT DO NOTHING`,
        [usernames, hash],
      );
    } finally {
      await db.end();
    }
    method = 'bulk-insert';
  } else {
    await runBounded(usernames, options.concurrency, async (username) => {
      const answer = await politely(() => options.http.request('POST', '/api/users/register', { username, password: options.password }));
      if (answer.status !== 201 && !(answer.status === 409 && answer.body?.code === 'USERNAME_TAKEN')) {
        throw new Error(`registering ${username} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    });
    method = 'api-register';
  }
  const users: SaleUser[] = new Array(usernames.length);
  await runBounded(usernames, options.concurrency, async (username, index) => {
    users[index] = { username, token: await login(options.http, username, options.password) };
  });
  return { users, method };
}

export async function login(http: HttpPool, username: string, password: string): Promise<string> {
  const answer = await politely(() => http.request('POST', '/api/users/login', { username, password }));
  if (answer.status === 200 && typeof answer.body?.access_token === 'string') return answer.body.access_token;
  throw new Error(`login of ${username} failed: ${answer.status} ${JSON.stringify(answer.body ?? answer.failure)}`);
}

/**
 * Sends a request again, as a real client would, while the answer says "retry later": a login
 * limit (429), the deployment's bound on password hashing (503 AUTH_BUSY, which a deployment
 * at its own BCRYPT_COST answers often while thousands log in at once) or another 503. Waits
 * Retry-After (or a growing pause) with jitter, for up to about a minute.
 */
async function politely(send: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; ; attempt++) {
    const answer = await send();
    const retryable = answer.status === 429 || answer.status === 503 || answer.status === 0;
    if (!retryable || Date.now() > deadline) return answer;
    const told = Number(answer.retryAfter) * 1000;
    const pause = Number.isFinite(told) && told > 0 ? told : 200 * Math.min(attempt + 1, 5);
    await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
  }
}
