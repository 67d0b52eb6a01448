import { Agent, request } from 'node:http';
import { startServiceGroup } from '../harness/self-hosted-service';
import { requestAdmissionOf } from '../src/lifecycle/request-admission';
import { TestApp, startTestApp } from './support/test-app';

/** POST /api/users/login on a connection of its own (or `agent`'s); resolves with the status and whether a token came. */
function loginOnOwnConnection(
  url: string,
  username: string,
  password = 'password123',
  agent: Agent | false = false,
): Promise<{ status: number; token: boolean }> {
  const body = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const target = new URL('/api/users/login', url);
    request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
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

  /**
   * Logins one at a time (bcrypt, tens of ms each): a kept-alive socket's second login waits
   * behind three others when SIGTERM comes, and the grace period (100 ms) ends before it is
   * answered. Resolves with the answers and the exit code.
   */
  async function drainWithKeptAliveLoginWaiting(env: Record<string, string>) {
    const group = await startServiceGroup(1, { ...env, SHUTDOWN_GRACE_MS: '100' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const login = (over: Agent | false) => loginOnOwnConnection(group.url, group.adminUser, group.adminPassword, over);
      const first = login(agent);
      const others: ReturnType<typeof login>[] = [];
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        others.push(login(false));
      }
      await first;
      const second = login(agent).catch((error: NodeJS.ErrnoException) => error.code);
      await new Promise((resolve) => setTimeout(resolve, 10));
      group.processes[0].signal('SIGTERM');
      return { second: await second, others: await Promise.all(others), exitCode: await group.processes[0].exited };
    } finally {
      agent.destroy();
      await group.stop();
    }
  }

  const ok = { status: 200, token: true };

  it('SIGTERM reads the parked connections first: a kept-alive one with a request waiting is not closed as idle', async () => {
    // Parked behind the others, unread, the socket looks idle to Node's close: its login would be lost.
    const drained = await drainWithKeptAliveLoginWaiting({ MAX_REQUESTS_IN_FLIGHT: '1' });
    expect(drained).toEqual({ second: ok, others: [ok, ok, ok], exitCode: 0 });
  }, 60_000);

  it('a drain closes a kept-alive connection once its last answer leaves, and exits cleanly', async () => {
    // Read before the signal, answered after the close began: Node closes idle connections only
    // at the close, so this one would hold the drain until its keep-alive timeout.
    const drained = await drainWithKeptAliveLoginWaiting({ MAX_REQUESTS_IN_FLIGHT: '0', BCRYPT_MAX_CONCURRENT: '1' });
    expect(drained).toEqual({ second: ok, others: [ok, ok, ok], exitCode: 0 });
  }, 60_000);
});
