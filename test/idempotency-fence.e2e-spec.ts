import { createServer } from 'node:net';
import { RedisNode } from '../harness/redis-node';
import { ApiClient } from './support/http-client';
import { TestApp, couponInvariants, startSiblingApp, startTestApp } from './support/test-app';

/** Concurrent sends of one key: enough that several reach a batch at once without a marker to stop them. */
const SENDS_OF_ONE_KEY = 10;

/** A loopback port nothing listens on (taken, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const claimWithKey = (api: ApiClient, token: string, couponName: string, key: string) =>
  api.post('/api/coupons/claim', { coupon_name: couponName }, { token, headers: { 'idempotency-key': key } });

/**
 * The in-flight marker's Redis node (the first of REDIS_URLS) is down, so markers fail open and
 * concurrent sends of one key all reach the claim batches; the Redlock quorum (2 of 3) still
 * holds. The primary key of idempotency_keys, written in the claim's transaction, is then what
 * keeps one answer per key.
 */
describe('Idempotency-Key without its in-flight marker: the database fence', () => {
  const nodes: RedisNode[] = [];
  let a: TestApp;
  let b: TestApp;
  let admin: string;

  beforeAll(async () => {
    nodes.push(await RedisNode.start(), await RedisNode.start());
    const redis = { REDIS_URLS: [`redis://127.0.0.1:${await deadPort()}`, ...nodes.map((n) => n.url)].join(',') };
    a = await startTestApp(redis);
    b = await startSiblingApp(a, redis);
    admin = await a.adminToken();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    for (const node of nodes) await node.kill();
  });

  it('ten concurrent sends of one key across two processes: one row, every answer the same 200', async () => {
    await a.api.createCoupon(admin, 'NOMARKER', 5);
    const token = await a.api.newUser('nomarker');
    const answers = await Promise.all(
      Array.from({ length: SENDS_OF_ONE_KEY }, (_, i) => claimWithKey(i % 2 ? b.api : a.api, token, 'NOMARKER', 'fenced')),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(SENDS_OF_ONE_KEY).fill(200));
    expect(new Set(answers.map((r) => r.text)).size).toBe(1); // byte for byte
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(SENDS_OF_ONE_KEY - 1);
    expect(await couponInvariants(a, 'NOMARKER')).toMatchObject({ remaining_amount: 4, rows: 1 });
  });

  it('one key sent at once for two different coupons: one claim commits, the other send is 422 and writes nothing', async () => {
    await a.api.createCoupon(admin, 'FENCE_ONE', 5);
    await a.api.createCoupon(admin, 'FENCE_TWO', 5);
    const token = await a.api.newUser('twocoupons');
    const [one, two] = await Promise.all([
      claimWithKey(a.api, token, 'FENCE_ONE', 'both'),
      claimWithKey(b.api, token, 'FENCE_TWO', 'both'),
    ]);
    expect([one.status, two.status].sort()).toEqual([200, 422]);
    expect([one, two].find((r) => r.status === 422)!.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const rows = (await couponInvariants(a, 'FENCE_ONE')).rows + (await couponInvariants(a, 'FENCE_TWO')).rows;
    expect(rows).toBe(1);
  });
});
