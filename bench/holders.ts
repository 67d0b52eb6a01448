import { Client } from 'pg';
import { HttpPool } from '../harness/http-pool';
import { startSelfHostedService } from '../harness/self-hosted-service';
import { login } from '../harness/user-seeder';

/**
 * `npm run bench:holders`: what the bare coupon read (`claimed_by`, every holder) costs
 * against one page of `/claims?limit=1000`, for coupons of 10,000, 100,000 and 1,000,000
 * holders with 25-character usernames. The holders are written straight into the service's
 * throwaway database (no claims are made through the API), then each read is timed several
 * times on the shipped service; the table gives the median. documentation/api.md quotes it.
 * BENCH_HOLDER_COUNTS=1000,5000 picks other sizes.
 */
const COUNTS = (process.env.BENCH_HOLDER_COUNTS ?? '10000,100000,1000000').split(',').map(Number);
const TURNS = 5;
/** A bcrypt hash of nothing anyone types: these users never log in. */
const NO_LOGIN_HASH = '$2b$04$' + 'x'.repeat(53);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function seedHolders(db: Client, coupon: string, holders: number): Promise<void> {
  await db.query('INSERT INTO coupons (name, amount, remaining_amount) VALUES ($1, $2, 0)', [coupon, holders]);
  // 25 characters: "h" + the coupon size + "_" + the index, padded with zeros.
  await db.query(
    `WITH u AS (
       INSERT INTO users (username, password_hash, role)
       SELECT rpad('h' || $2::int || '_', 25 - length(i::text), '0') || i, $3, 'user' FROM generate_series(1, $2::int) i
       RETURNING id)
     INSERT INTO user_claims (user_id, coupon_id) SELECT u.id, c.id FROM u, coupons c WHERE c.name = $1`,
    [coupon, holders, NO_LOGIN_HASH],
  );
}

/** Median time and the body size of `path`, read TURNS times after one warm-up. */
async function timeRead(url: string, path: string, token: string): Promise<{ ms: number; bytes: number }> {
  const read = async () => {
    const started = performance.now();
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${Buffer.from(body).toString()}`);
    return { ms: performance.now() - started, bytes: body.byteLength };
  };
  await read();
  const turns = [];
  for (let i = 0; i < TURNS; i++) turns.push(await read());
  return { ms: median(turns.map((t) => t.ms)), bytes: turns[0].bytes };
}

const size = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} KB`);
const duration = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

async function main(): Promise<void> {
  const service = await startSelfHostedService();
  const db = new Client({ connectionString: service.databaseUrl });
  await db.connect();
  try {
    const http = new HttpPool([service.url], 1, 30_000);
    const token = await login(http, service.adminUser, service.adminPassword);
    await http.close();
    const rows: string[] = [];
    for (const holders of COUNTS) {
      const coupon = `HOLDERS_${holders}`;
      await seedHolders(db, coupon, holders);
      const bare = await timeRead(service.url, `/api/coupons/${coupon}`, token);
      const page = await timeRead(service.url, `/api/coupons/${coupon}/claims?limit=1000`, token);
      rows.push(
        `| ${holders.toLocaleString('en-US')} | ${size(bare.bytes)}, ${duration(bare.ms)} | ${size(page.bytes)}, ${duration(page.ms)} |`,
      );
      console.error(rows[rows.length - 1]);
    }
    console.log(`median of ${TURNS} reads each, after one warm-up\n`);
    console.log('| holders | bare `GET /api/coupons/:name` | one page of `/claims?limit=1000` |');
    console.log('|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    await db.end();
    await service.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
