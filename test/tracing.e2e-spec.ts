import { ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Server, Socket, createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { dropDatabase } from '../harness/database-checks';
import { deleteKeysWithPrefix, freePort } from '../harness/redis-node';
import { ApiClient } from './support/http-client';
import { logSink } from './support/log-sink';
import { OtlpReceiver, ReceivedSpan } from './support/otlp-receiver';
import { SHARED_REDIS_URL, TestApp, databaseUrl, isolatedNames, sleep, startTestApp } from './support/test-app';

const MAIN = join(__dirname, '..', 'dist', 'src', 'main.js');
const START_WITHIN_MS = 30_000;

/** After a claim's COMMIT went through, how long before the link "drops": the commit has landed by then. */
const DROP_AFTER_COMMIT_MS = 100;

/** A body sent this long after its headers arrives in a TCP segment (and a socket read) of its own. */
const BODY_LATER_MS = 50;

/** Requests without a traceparent sent at once, for the default sampling's share. */
const ROOT_REQUESTS = 200;

/**
 * A loopback proxy in front of PostgreSQL that, once armed, lets the next COMMIT through and then
 * cuts that connection both ways: the server commits, the client never hears the answer (what
 * commit-confirmation.ts confirms by looking).
 */
class CommitCutter {
  private armed = false;
  cut = 0;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<CommitCutter> {
    let cutter!: CommitCutter;
    const server = createServer((client) => cutter.link(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cutter = new CommitCutter(server, (server.address() as { port: number }).port);
    return cutter;
  }

  arm(): void {
    this.armed = true;
  }

  private link(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: 5432 });
    for (const socket of [client, upstream]) socket.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let answering = true;
    upstream.on('data', (chunk) => answering && client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      // The simple-query message of a bare COMMIT: 'Q', its length, the text and a NUL.
      if (this.armed && chunk.includes('COMMIT\0')) {
        this.armed = false;
        this.cut++;
        answering = false;
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, DROP_AFTER_COMMIT_MS);
      }
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const newTraceparent = () => {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
};
const one = (spans: ReceivedSpan[], name: string) => {
  const found = spans.filter((span) => span.name === name);
  expect({ name, count: found.length }).toEqual({ name, count: 1 });
  return found[0];
};

describe('tracing (the built service exporting to an OTLP/HTTP receiver on loopback)', () => {
  let receiver: OtlpReceiver;
  let cutter: CommitCutter;
  let service: ChildProcess;
  let output = '';
  let api: ApiClient;
  let admin: string;
  let user: string;
  const { database, prefix } = isolatedNames();
  const adminPassword = randomBytes(12).toString('hex');

  /** The JSON log lines the service wrote so far. */
  const logLines = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    cutter = await CommitCutter.start();
    const port = await freePort();
    service = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH!,
        NODE_ENV: 'production',
        JWT_SECRET: randomBytes(32).toString('hex'),
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl(database, `postgres://postgres@127.0.0.1:${cutter.port}/postgres`),
        REDIS_URLS: SHARED_REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        ADMIN_USERNAME: 'admin',
        ADMIN_PASSWORD: adminPassword,
        BCRYPT_COST: '4',
        // The suite registers its users at once: no load shedding or per-address limit in the way.
        BCRYPT_MAX_CONCURRENT: '64',
        REGISTRATION_RATE_LIMIT_PER_ADDRESS: '0',
        LOGIN_RATE_LIMIT_PER_ADDRESS: '0',
        SHUTDOWN_GRACE_MS: '0',
        TRACING_OTLP_ENDPOINT: receiver.url,
      },
    });
    service.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    service.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + START_WITHIN_MS;
    while (!/listening on/.test(output)) {
      if (service.exitCode !== null || Date.now() > deadline) throw new Error(`the service did not start:\n${output}`);
      await sleep(100);
    }
    api = new ApiClient(`http://127.0.0.1:${port}`);
    admin = await api.login('admin', adminPassword);
    user = await api.newUser('traced');
    expect((await api.createCoupon(admin, 'TRACED', 10)).status).toBe(201);
  });
  afterAll(async () => {
    service.kill('SIGTERM');
    await new Promise((resolve) => (service.exitCode !== null ? resolve(null) : service.once('exit', resolve)));
    await receiver.close();
    await cutter.close();
    await dropDatabase(databaseUrl(database));
    await deleteKeysWithPrefix([SHARED_REDIS_URL], prefix);
  });

  it("a claim's traceparent: answered with the same trace, in its log line, on its spans, which nest queue wait / batch / lock / transaction / queries", async () => {
    const caller = newTraceparent();
    const claim = await api.post('/api/coupons/claim', { coupon_name: 'TRACED' }, { token: user, headers: { traceparent: caller.header } });
    expect(claim.status).toBe(200);
    // The answer carries the server span's context, in the caller's trace.
    const answered = claim.headers.get('traceparent');
    expect(answered).toMatch(new RegExp(`^00-${caller.traceId}-[\\da-f]{16}-01$`));

    const spans = await receiver.spansOf(caller.traceId, (found) =>
      ['COMMIT', 'lock.release'].every((name) => found.some((s) => s.name === name)),
    );
    const server = one(spans, 'POST /api/coupons/claim');
    expect(server.parentSpanId).toBe(caller.spanId);
    expect(answered).toContain(server.spanId);
    expect(server.attributes['http.response.status_code']).toBe(200);
    const queueWait = one(spans, 'claim.queue_wait');
    expect(queueWait.parentSpanId).toBe(server.spanId);
    const batch = one(spans, 'claim.batch');
    // Alone in its batch, the claim is the batch's oldest: the batch is its child, and links to its wait.
    expect(batch.parentSpanId).toBe(server.spanId);
    expect(batch.links).toContainEqual({ traceId: caller.traceId, spanId: queueWait.spanId });
    const lock = one(spans, 'lock.acquire');
    expect(lock.parentSpanId).toBe(batch.spanId);
    const transaction = one(spans, 'claim.transaction');
    expect(transaction.parentSpanId).toBe(batch.spanId);
    expect(one(spans, 'lock.release').parentSpanId).toBe(batch.spanId);
    // Outgoing calls: the transaction's statements, and the lock's votes on Redis.
    for (const statement of ['BEGIN', 'COMMIT']) expect(one(spans, statement).parentSpanId).toBe(transaction.spanId);
    expect(spans.filter((s) => s.attributes['db.system.name'] === 'redis' && s.parentSpanId === lock.spanId).length).toBeGreaterThanOrEqual(
      1,
    );

    // Its request line carries the trace id.
    const line = logLines().find((l) => l.route === '/api/coupons/claim' && l.trace_id === caller.traceId);
    expect(line).toMatchObject({ status: 200, trace_id: caller.traceId, msg: 'request completed' });
  });

  it('a claim whose body arrives after its headers (another TCP segment) still runs in its request span', async () => {
    const caller = newTraceparent();
    const body = JSON.stringify({ coupon_name: 'TRACED' });
    const slowToken = await api.newUser('slow_body');
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        `${api.baseUrl}/api/coupons/claim`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${slowToken}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            traceparent: caller.header,
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', reject);
      // The headers go now; the body, in its own segment, after the server has read them.
      request.flushHeaders();
      setTimeout(() => request.end(body), BODY_LATER_MS);
    });
    expect(status).toBe(200);
    const spans = await receiver.spansOf(caller.traceId, (found) => found.some((s) => s.name === 'claim.queue_wait'));
    const server = one(spans, 'POST /api/coupons/claim');
    expect(one(spans, 'claim.queue_wait').parentSpanId).toBe(server.spanId);
  });

  it('claims batched together: each request keeps its own trace and queue wait, and every wait is linked from a batch span', async () => {
    const callers = Array.from({ length: 6 }, () => newTraceparent());
    const tokens = await Promise.all(callers.map((_, i) => api.newUser(`batched_${i}`)));
    const answers = await Promise.all(
      callers.map((caller, i) =>
        api.post('/api/coupons/claim', { coupon_name: 'TRACED' }, { token: tokens[i], headers: { traceparent: caller.header } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    const waits: ReceivedSpan[] = [];
    for (const caller of callers) {
      const spans = await receiver.spansOf(
        caller.traceId,
        (found) => found.some((s) => s.name === 'claim.queue_wait') && found.some((s) => s.kind === 2),
      );
      const server = spans.find((s) => s.name === 'POST /api/coupons/claim')!;
      const wait = one(spans, 'claim.queue_wait');
      expect(wait.parentSpanId).toBe(server.spanId);
      waits.push(wait);
    }
    await receiver.spansOf('', () =>
      waits.every((w) => receiver.spans.some((s) => s.name === 'claim.batch' && s.links.some((l) => l.spanId === w.spanId))),
    );
    for (const wait of waits) {
      const batch = receiver.spans.find((s) => s.name === 'claim.batch' && s.links.some((l) => l.spanId === wait.spanId));
      expect({ wait: wait.spanId, linked: batch !== undefined }).toEqual({ wait: wait.spanId, linked: true });
    }
    for (const caller of callers) {
      expect(logLines().some((l) => l.route === '/api/coupons/claim' && l.trace_id === caller.traceId)).toBe(true);
    }
  });

  it('a COMMIT whose answer is lost: claim.commit_confirmation under claim.transaction, with its own statements', async () => {
    const token = await api.newUser('confirmed');
    const caller = newTraceparent();
    cutter.arm();
    const claim = await api.post('/api/coupons/claim', { coupon_name: 'TRACED' }, { token, headers: { traceparent: caller.header } });
    expect(cutter.cut).toBe(1);
    // The commit landed; the repository looked, found the row and answered 200.
    expect(claim.status).toBe(200);
    const spans = await receiver.spansOf(
      caller.traceId,
      (found) => found.some((s) => s.name === 'claim.commit_confirmation') && found.some((s) => s.kind === 2),
    );
    const transaction = one(spans, 'claim.transaction');
    const confirmation = one(spans, 'claim.commit_confirmation');
    expect(confirmation.parentSpanId).toBe(transaction.spanId);
    expect(
      spans.filter((s) => s.parentSpanId === confirmation.spanId && s.attributes['db.system.name'] === 'postgresql').length,
    ).toBeGreaterThanOrEqual(1);
    expect(
      logLines().some(
        (l) => l.context === 'CommitConfirmation' && l.trace_id === caller.traceId && /what it wrote is in/.test(String(l.msg)),
      ),
    ).toBe(true);
  });

  it("a caller's trace the caller did not sample (flags 00) is followed: answered and logged with its id, nothing recorded", async () => {
    const unsampled = newTraceparent();
    const sampled = newTraceparent();
    const get = (traceparent: string) =>
      fetch(`${api.baseUrl}/api/coupons/TRACED`, { headers: { authorization: `Bearer ${user}`, traceparent } });
    const quiet = await get(unsampled.header.replace(/-01$/, '-00'));
    const traced = await get(sampled.header);
    expect([quiet.status, traced.status]).toEqual([200, 200]);
    // The caller's trace, a span id of this service's own, and the caller's flag.
    expect(quiet.headers.get('traceparent')).toMatch(new RegExp(`^00-${unsampled.traceId}-(?!${unsampled.spanId})[\\da-f]{16}-00$`));
    expect(traced.headers.get('traceparent')).toMatch(new RegExp(`^00-${sampled.traceId}-[\\da-f]{16}-01$`));
    // The sampled caller's spans arrive; the unsampled one's, sent first, would have arrived with them.
    await receiver.spansOf(sampled.traceId, (found) => found.length > 0);
    expect(receiver.spans.filter((span) => span.traceId === unsampled.traceId)).toEqual([]);
    const logged = () => logLines().some((l) => l.trace_id === unsampled.traceId && l.route === '/api/coupons/:name');
    for (let wait = 0; !logged() && wait < 20; wait++) await sleep(100);
    expect(logged()).toBe(true);
  });

  it('requests without a traceparent each start a trace, answered and logged with its id; the default samples a share of them, all spans of those it samples', async () => {
    const answers = await Promise.all(
      Array.from({ length: ROOT_REQUESTS }, () =>
        fetch(`${api.baseUrl}/api/coupons/TRACED`, { headers: { authorization: `Bearer ${user}` } }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(ROOT_REQUESTS).fill(200));
    const parents = answers.map((answer) => /^00-([\da-f]{32})-[\da-f]{16}-(0[01])$/.exec(answer.headers.get('traceparent') ?? ''));
    expect(parents.every((match) => match !== null)).toBe(true);
    const traceIds = parents.map((match) => match![1]);
    expect(new Set(traceIds).size).toBe(ROOT_REQUESTS);
    // Every request line carries its trace id, sampled or not (the last lines may still be on their way).
    const unlogged = () => {
      const logged = new Set(
        logLines()
          .filter((l) => l.route === '/api/coupons/:name')
          .map((l) => l.trace_id),
      );
      return traceIds.filter((id) => !logged.has(id));
    };
    for (let wait = 0; unlogged().length > 0 && wait < 20; wait++) await sleep(100);
    expect(unlogged()).toEqual([]);
    // TRACING_SAMPLE_PERCENT's default (10) samples about a tenth: 1 to 60 of 200 is all but certain.
    const sampled = traceIds.filter((_, i) => parents[i]![2] === '01');
    expect(sampled.length).toBeGreaterThanOrEqual(1);
    expect(sampled.length).toBeLessThanOrEqual(60);
    for (const traceId of sampled) {
      const spans = await receiver.spansOf(traceId, (found) => found.length > 0);
      expect(one(spans, 'GET /api/coupons/:name').parentSpanId).toBeUndefined();
    }
    // The unsampled ones record nothing (the sampled ones' spans have arrived by now, so theirs would have too).
    const unsampled = new Set(traceIds.filter((_, i) => parents[i]![2] === '00'));
    expect(receiver.spans.filter((span) => unsampled.has(span.traceId))).toEqual([]);
  });
});

describe("tracing off (no TRACING_OTLP_ENDPOINT): a caller's traceparent still reaches the log", () => {
  let t: TestApp;
  const { stream, lines } = logSink();
  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'info' }, { logDestination: stream });
  });
  afterAll(() => t.close());

  it("the request line carries the caller's trace id; no traceparent is answered, none is made up", async () => {
    const caller = newTraceparent();
    const traced = await t.api.get('/api/healthcheck/live', { headers: { traceparent: caller.header } });
    expect(traced.headers.get('traceparent')).toBeNull();
    await t.api.get('/api/healthcheck/live', { headers: { traceparent: '00-zz-not-a-trace' } });
    const requestLines = lines.map((line) => JSON.parse(line)).filter((line) => line.route === '/api/healthcheck/live');
    expect(requestLines.map((line) => line.trace_id)).toEqual([caller.traceId, undefined]);
  });
});
