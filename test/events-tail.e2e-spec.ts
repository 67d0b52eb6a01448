import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LOCAL_BROKER, deleteExchange } from '../harness/event-queue';
import { TestApp, sleep, startAppWithUser } from './support/test-app';

const TAIL = join(__dirname, '..', 'dist', 'scripts', 'events-tail.js');

describe('npm run events:tail', () => {
  const exchange = `test-events-tail-${process.pid}-${Date.now().toString(36)}`;
  let t: TestApp, admin: string, user: string;
  beforeAll(
    async () => ({ t, admin, user } = await startAppWithUser('tailuser', { EVENTS_URL: LOCAL_BROKER.url, EVENTS_EXCHANGE: exchange })),
  );
  afterAll(async () => {
    await t.close();
    await deleteExchange(exchange);
  });

  it("prints a running deployment's events as JSON lines, and stops cleanly on Ctrl-C", async () => {
    const tail = spawn(process.execPath, [TAIL], { env: { ...process.env, EVENTS_URL: LOCAL_BROKER.url, EVENTS_EXCHANGE: exchange } });
    let stdout = '';
    let stderr = '';
    tail.stdout.on('data', (chunk) => (stdout += chunk));
    tail.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => tail.once('exit', resolve));
    for (let waited = 0; !stderr.includes('tailing') && waited < 10_000; waited += 50) await sleep(50);
    expect(stderr).toContain(`tailing ${exchange}`);

    expect((await t.api.createCoupon(admin, 'TAILED', 1)).status).toBe(201);
    expect((await t.api.claim(user, 'TAILED')).status).toBe(200);
    const lines = () =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    for (let waited = 0; lines().length < 3 && waited < 10_000; waited += 50) await sleep(50);
    expect(lines().map((e) => [e.type, e.coupon_name])).toEqual([
      ['coupon.created', 'TAILED'],
      ['claim.granted', 'TAILED'],
      ['coupon.sold_out', 'TAILED'],
    ]);
    expect(lines()[1]).toMatchObject({ user_id: 'tailuser' });

    tail.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
