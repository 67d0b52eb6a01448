import { request } from 'node:http';
import { requestAdmissionOf } from '../src/lifecycle/request-admission';
import { TestApp, startTestApp } from './support/test-app';

/** POST /api/users/login on a connection of its own; resolves with the status and whether a token came. */
function loginOnOwnConnection(url: string, username: string): Promise<{ status: number; token: boolean }> {
  const body = JSON.stringify({ username, password: 'password123' });
  return new Promise((resolve, reject) => {
    const target = new URL('/api/users/login', url);
    request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, token: typeof JSON.parse(text).access_token === 'string' }));
      },
    )
      .on('error', reject)
      .end(body);
  });
}

describe('MAX_REQUESTS_IN_FLIGHT (connections past it wait unread)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
  });

  it('serves a crowd of logins at most 2 at a time, every one answered', async () => {
    t = await startTestApp({ MAX_REQUESTS_IN_FLIGHT: 2 });
    const users = ['adm_a', 'adm_b', 'adm_c', 'adm_d', 'adm_e', 'adm_f'];
    for (const user of users) expect((await t.api.register(user)).status).toBe(201);
    const admission = requestAdmissionOf(t.app.getHttpServer())!;
    let peakInProgress = 0;
    let peakWaiting = 0;
    const sampler = setInterval(() => {
      peakInProgress = Math.max(peakInProgress, admission.requestsInProgress);
      peakWaiting = Math.max(peakWaiting, admission.connectionsWaiting);
    }, 1);
    try {
      // Each login hashes with bcrypt (tens of ms): the crowd outlasts the limit.
      const answers = await Promise.all(users.map((user) => loginOnOwnConnection(t.url, user)));
      expect(answers).toEqual(users.map(() => ({ status: 200, token: true })));
    } finally {
      clearInterval(sampler);
    }
    expect(peakInProgress).toBe(2);
    expect(peakWaiting).toBeGreaterThanOrEqual(1);
    expect(admission.connectionsWaiting).toBe(0);
  });

  it('is on by default (512), and 0 turns it off', async () => {
    t = await startTestApp();
    expect(t.config.MAX_REQUESTS_IN_FLIGHT).toBe(512);
    expect(requestAdmissionOf(t.app.getHttpServer())).toBeDefined();
    await t.close();
    t = await startTestApp({ MAX_REQUESTS_IN_FLIGHT: 0 });
    expect(requestAdmissionOf(t.app.getHttpServer())).toBeUndefined();
  });
});
