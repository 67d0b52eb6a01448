import * as bcrypt from 'bcrypt';
import { Client } from 'pg';
import { HttpPool, runBounded } from './http-pool';

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
         SELECT unnest($1::text[]), $2, 'user' ON CONFLICT (username) DO NOTHING`,
        [usernames, hash],
      );
    } finally {
      await db.end();
    }
    method = 'bulk-insert';
  } else {
    await runBounded(usernames, options.concurrency, async (username) => {
      const answer = await options.http.request('POST', '/api/users/register', { username, password: options.password });
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
  for (let attempt = 0; ; attempt++) {
    const answer = await http.request('POST', '/api/users/login', { username, password });
    if (answer.status === 200 && typeof answer.body?.access_token === 'string') return answer.body.access_token;
    // Login limits or a busy server: back off a little and try again, a few times.
    if ((answer.status === 429 || answer.status === 503 || answer.status === 0) && attempt < 5) {
      await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      continue;
    }
    throw new Error(`login of ${username} failed: ${answer.status} ${JSON.stringify(answer.body ?? answer.failure)}`);
  }
}
