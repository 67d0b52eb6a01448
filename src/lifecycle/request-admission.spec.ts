import { Agent, Server, createServer, request } from 'node:http';
import { connect } from 'node:net';
import { RequestAdmission, requestAdmissionOf } from './request-admission';

/**
 * A real HTTP server whose every request waits until the test lets it go: what the admission
 * lets in shows as `started`, and the most ever in progress at once as `peak`.
 */
async function holdingServer(limit: number, keepAliveTimeoutMs?: number) {
  let inProgress = 0;
  let peak = 0;
  const started: string[] = [];
  const held: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    inProgress++;
    peak = Math.max(peak, inProgress);
    started.push(req.url!.slice(1));
    held.push(() => {
      inProgress--;
      res.end(req.url);
    });
  });
  if (keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = keepAliveTimeoutMs;
  const admission = new RequestAdmission(limit);
  admission.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const releaseOne = () => held.shift()?.();
  return { server, admission, port, started, held, releaseOne, peak: () => peak };
}

/** GET /name on a connection of its own (or of `agent`); resolves with the body. */
function get(port: number, name: string, agent: Agent | false = false): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: `/${name}`, agent }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

const until = async (condition: () => boolean, ms = 2_000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe('RequestAdmission', () => {
  let t: Awaited<ReturnType<typeof holdingServer>>;

  afterEach(async () => {
    while (t.held.length > 0) t.releaseOne();
    t.server.closeAllConnections();
    await new Promise((resolve) => t.server.close(resolve));
  });

  it('reads no connection past the limit: they wait unread, then are served oldest first as answers go out', async () => {
    t = await holdingServer(2);
    const answers = ['a', 'b', 'c', 'd', 'e'].map(async (name, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * 20)); // arrive in this order
      return get(t.port, name);
    });
    await until(() => t.started.length === 2);
    await settle();
    expect(t.started).toEqual(['a', 'b']);
    expect(t.admission.connectionsWaiting).toBe(3);
    expect(t.admission.requestsInProgress).toBe(2);
    t.releaseOne();
    await until(() => t.started.length === 3);
    await settle();
    expect(t.started).toEqual(['a', 'b', 'c']);
    while (t.started.length < 5 || t.held.length > 0) {
      t.releaseOne();
      await settle();
    }
    expect(await Promise.all(answers)).toEqual(['/a', '/b', '/c', '/d', '/e']);
    expect(t.peak()).toBe(2);
    expect(t.admission.connectionsWaiting).toBe(0);
  });

  /**
   * k1 on `agent`'s kept-alive socket, then `other` on a new connection, parked behind it. When
   * k1 is answered its room goes to `other`, parked first, so k1's socket waits in its turn.
   */
  async function keptAliveParkedBehindOther(agent: Agent): Promise<{ other: Promise<string> }> {
    const first = get(t.port, 'k1', agent);
    await until(() => t.started.length === 1);
    const other = get(t.port, 'other');
    await settle();
    t.releaseOne();
    expect(await first).toBe('/k1');
    return { other };
  }

  it('parks a kept-alive connection whose answer leaves while the limit is reached, until there is room', async () => {
    t = await holdingServer(1);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { other } = await keptAliveParkedBehindOther(agent);
      const second = get(t.port, 'k2', agent);
      await settle();
      expect(t.started).toEqual(['k1', 'other']);
      expect(t.admission.connectionsWaiting).toBe(1);
      t.releaseOne();
      expect(await other).toBe('/other');
      await until(() => t.started.length === 3);
      expect(t.started).toEqual(['k1', 'other', 'k2']);
      t.releaseOne();
      expect(await second).toBe('/k2');
      expect(t.peak()).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('a woken connection that sends nothing gives its room back at the next sweeps', async () => {
    t = await holdingServer(1);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { other } = await keptAliveParkedBehindOther(agent); // k1's socket: parked, idle
      await until(() => t.started.length === 2);
      t.releaseOne(); // `other` answered: the room goes to k1's idle socket, which sends nothing
      expect(await other).toBe('/other');
      await settle();
      // Held by nobody after the sweeps, the room is there for the next connection.
      const third = get(t.port, 'third');
      await until(() => t.started.length === 3);
      expect(t.started).toEqual(['k1', 'other', 'third']);
      t.releaseOne();
      expect(await third).toBe('/third');
    } finally {
      agent.destroy();
    }
  });

  it('openAll reads every parked connection at once (a draining process answers what it was sent)', async () => {
    t = await holdingServer(1);
    const answers = ['a', 'b', 'c'].map((name) => get(t.port, name));
    await until(() => t.started.length === 1);
    await settle();
    expect(t.admission.connectionsWaiting).toBe(2);
    requestAdmissionOf(t.server)!.openAll();
    await until(() => t.started.length === 3);
    while (t.held.length > 0) t.releaseOne();
    expect((await Promise.all(answers)).sort()).toEqual(['/a', '/b', '/c']);
  });

  it('with a limit of 0 it is not attached: every connection is read', async () => {
    t = await holdingServer(0);
    const answers = ['a', 'b', 'c'].map((name) => get(t.port, name));
    await until(() => t.started.length === 3);
    expect(requestAdmissionOf(t.server)).toBeUndefined();
    while (t.held.length > 0) t.releaseOne();
    await Promise.all(answers);
  });

  it('a parked connection its client gave up on is still read (its request was sent), and holds no room after', async () => {
    t = await holdingServer(1);
    const first = get(t.port, 'a');
    await until(() => t.started.length === 1);
    const gone = request({ host: '127.0.0.1', port: t.port, path: '/gone', agent: false });
    gone.on('error', () => undefined);
    gone.end();
    await settle();
    const last = get(t.port, 'b');
    await settle();
    expect(t.admission.connectionsWaiting).toBe(2);
    gone.destroy();
    await settle();
    t.releaseOne();
    // `gone` is woken first and read; its answer finds no client, its room passes on to `b`.
    await until(() => t.started.length === 3);
    expect(t.started).toEqual(['a', 'gone', 'b']);
    while (t.held.length > 0) t.releaseOne();
    expect([await first, await last]).toEqual(['/a', '/b']);
    // Nothing kept a room: the next connection is read at once.
    const next = get(t.port, 'next');
    await until(() => t.started.length === 4);
    t.releaseOne();
    expect(await next).toBe('/next');
    expect(t.admission.requestsInProgress).toBe(0);
    expect(t.admission.connectionsWaiting).toBe(0);
  });

  it('a pipelining connection answered twice while full is parked once, and leaves no room taken', async () => {
    t = await holdingServer(2);
    const piped = connect(t.port, '127.0.0.1');
    piped.on('data', () => undefined);
    piped.write('GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => t.started.length === 2);
    const a = get(t.port, 'a');
    const b = get(t.port, 'b');
    await settle();
    expect(t.admission.connectionsWaiting).toBe(2);
    t.releaseOne();
    t.releaseOne(); // both answers leave in one turn: the pipelining socket is parked once
    await until(() => t.started.length === 4);
    while (t.held.length > 0) t.releaseOne();
    expect([await a, await b]).toEqual(['/a', '/b']);
    piped.destroy();
    await settle();
    // Every room is free again: two new connections are read at once.
    const c = get(t.port, 'c');
    const d = get(t.port, 'd');
    await until(() => t.started.length === 6);
    while (t.held.length > 0) t.releaseOne();
    expect([await c, await d]).toEqual(['/c', '/d']);
  });

  it('a kept-alive connection parked longer than its idle timeout is not closed: its request is served', async () => {
    t = await holdingServer(1, 200); // Node closes an idle kept-alive socket after 200 ms (+ its 1 s buffer)
    const kept = connect(t.port, '127.0.0.1');
    let received = '';
    let reset = false;
    kept.on('data', (chunk: Buffer) => (received += chunk.toString()));
    kept.on('error', () => (reset = true));
    kept.write('GET /k1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => t.started.length === 1);
    const other = get(t.port, 'other');
    await settle();
    t.releaseOne(); // k1 answered: `other` takes the room, the kept-alive socket waits
    await until(() => received.includes('/k1'));
    kept.write('GET /k2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect(t.started).toEqual(['k1', 'other']);
    t.releaseOne();
    expect(await other).toBe('/other');
    await until(() => t.started.length === 3);
    t.releaseOne();
    await until(() => received.includes('/k2'));
    expect(reset).toBe(false);
    kept.destroy();
  });
});
