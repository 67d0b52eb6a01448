import { TcpProxy } from '../harness/tcp-proxy';
import { TestApp, couponInvariants, databaseUrl, isolatedNames, startTestApp } from './support/test-app';

describe('when PostgreSQL goes away', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let admin: string;
  let token: string;
  beforeAll(async () => {
    proxy = await TcpProxy.start('127.0.0.1', 5432);
    const { database } = isolatedNames();
    t = await startTestApp({
      DATABASE_URL: databaseUrl(database, `postgres://postgres@127.0.0.1:${proxy.port}/postgres`),
      DATABASE_STATEMENT_TIMEOUT_MS: 800,
      // Start-up refuses timeouts out of order: idle-in-transaction < lock wait < statement.
      DATABASE_LOCK_TIMEOUT_MS: 600,
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 400,
      DATABASE_CONNECT_TIMEOUT_MS: 500,
      HEALTH_TIMEOUT_MS: 500,
    });
    admin = await t.adminToken();
    token = await t.api.newUser('survivor');
    await t.api.createCoupon(admin, 'PGDOWN', 3);
  });
  afterAll(async () => {
    proxy.set('forward');
    await t.close();
    await proxy.close();
  });

  it('connections cut: claims get 503 DATABASE_UNAVAILABLE with Retry-After, health names the database', async () => {
    proxy.set('refuse');
    const claim = await t.api.claim(token, 'PGDOWN');
    expect(claim.status).toBe(503);
    expect(claim.body.code).toBe('DATABASE_UNAVAILABLE');
    expect(claim.headers.get('retry-after')).toBeTruthy();
    const health = await t.api.get('/api/healthcheck');
    expect(health.status).toBe(503);
    expect(health.body.message).toContain('database');
    expect(health.body.details.checks.database).toBe('down');
  });

  it('database hangs: health answers 503 within its timeout instead of hanging', async () => {
    proxy.set('blackhole');
    const started = Date.now();
    const health = await t.api.get('/api/healthcheck');
    expect(health.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('recovers by itself once the database is back, and nothing was written meanwhile', async () => {
    proxy.set('forward');
    let claim = await t.api.claim(token, 'PGDOWN');
    for (let i = 0; i < 30 && claim.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 200));
      claim = await t.api.claim(token, 'PGDOWN');
    }
    expect(claim.status).toBe(200);
    expect(await couponInvariants(t, 'PGDOWN')).toEqual({ amount: 3, remaining_amount: 2, rows: 1, distinct_users: 1 });
    expect((await t.api.get('/api/healthcheck')).status).toBe(200);
  });

  it('a silent database: the readiness probe closes the connection it asked on, so the pool never lends it again wedged', async () => {
    proxy.set('forward');
    expect((await t.api.get('/api/healthcheck')).status).toBe(200); // the probe's pooled connection is idle and open
    const open = proxy.upstreamPorts().filter((port) => !proxy.clientClosed(port));
    expect(open.length).toBeGreaterThan(0);
    proxy.set('blackhole');
    try {
      expect((await t.api.get('/api/healthcheck')).status).toBe(503);
      await new Promise((r) => setTimeout(r, 200));
      // The probe took an idle connection, got no answer within HEALTH_TIMEOUT_MS, and closed it.
      expect(open.filter((port) => proxy.clientClosed(port)).length).toBeGreaterThan(0);
    } finally {
      proxy.set('forward');
    }
    expect((await t.api.get('/api/healthcheck')).status).toBe(200);
  });
});
