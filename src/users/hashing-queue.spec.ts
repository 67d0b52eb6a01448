import { FairHashingQueue, HashingQueueFullError } from './hashing-queue';

/** Hashes that finish when the test says so, in the order they started. */
class ManualHashes {
  readonly started: string[] = [];
  private readonly finishers: (() => void)[] = [];
  hash(label: string): () => Promise<string> {
    return () => {
      this.started.push(label);
      return new Promise((resolve) => this.finishers.push(() => resolve(label)));
    };
  }
  async finishOldest(): Promise<void> {
    this.finishers.shift()!();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

const refusedFor = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (error: unknown) => (error instanceof HashingQueueFullError ? error.retryAfterMs : Promise.reject(error)),
  );

describe('FairHashingQueue', () => {
  it('serves addresses round robin in arrival order: a busy address does not hold back the others', async () => {
    const hashes = new ManualHashes();
    const queue = new FairHashingQueue(1, 60_000, 100, () => 0);
    for (const label of ['a1', 'a2', 'a3', 'a4', 'b1', 'c1', 'b2']) void queue.run(label[0], hashes.hash(label));
    for (let i = 0; i < 7; i++) await hashes.finishOldest();
    expect(hashes.started).toEqual(['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4']);
  });

  it('runs at most `capacity` at once', async () => {
    const hashes = new ManualHashes();
    const queue = new FairHashingQueue(2, 60_000, 100, () => 0);
    for (const label of ['a1', 'b1', 'c1', 'd1']) void queue.run(label[0], hashes.hash(label));
    expect(hashes.started).toEqual(['a1', 'b1']);
    expect([queue.inFlight, queue.waiting]).toEqual([2, 2]);
    await hashes.finishOldest();
    expect(hashes.started).toEqual(['a1', 'b1', 'c1']);
  });

  it('refuses only what it cannot start within maxWaitMs, and promises each refused address its own later time', async () => {
    const hashes = new ManualHashes();
    // 100 ms a hash, one at a time, 300 ms of waiting allowed: the running hash plus 3 waiting.
    const queue = new FairHashingQueue(1, 300, 100, () => 0);
    const admitted = ['a', 'b', 'c', 'd'].map((address) => refusedFor(queue.run(address, hashes.hash(address))));
    expect(queue.waiting).toBe(3);
    const refusals = await Promise.all(['e', 'f', 'g'].map((address) => refusedFor(queue.run(address, hashes.hash(address)))));
    // e would wait 400 ms: 100 past the bound; f and g one drain interval (100 ms) later each.
    expect(refusals).toEqual([100, 200, 300]);
    // Asking again before its time, e keeps its place rather than taking a new one.
    expect(await refusedFor(queue.run('e', hashes.hash('e')))).toBe(100);
    for (let i = 0; i < 4; i++) await hashes.finishOldest();
    expect(await Promise.all(admitted)).toEqual([null, null, null, null]);
  });

  it('measures its drain rate from finished hashes', async () => {
    let now = 0;
    const hashes = new ManualHashes();
    const queue = new FairHashingQueue(2, 1_000, 100, () => now);
    expect(queue.drainPerSecond).toBe(20);
    void queue.run('a', hashes.hash('a1'));
    now = 600;
    await hashes.finishOldest();
    // One 600 ms hash moves the 100 ms estimate a fifth of the way: 200 ms, 2 slots: 10/s.
    expect(queue.drainPerSecond).toBe(10);
  });

  it('with maxWaitMs 0 never queues: refuses as soon as every slot is taken', async () => {
    const hashes = new ManualHashes();
    const queue = new FairHashingQueue(1, 0, 100, () => 0);
    void queue.run('a', hashes.hash('a1'));
    expect(await refusedFor(queue.run('b', hashes.hash('b1')))).toBeGreaterThan(0);
    expect(queue.waiting).toBe(0);
  });
});

describe('FairHashingQueue promises', () => {
  it('lets in an address that comes back at its promised time even when the line is still over the bound, once', async () => {
    let now = 0;
    const hashes = new ManualHashes();
    const queue = new FairHashingQueue(1, 300, 100, () => now);
    for (const address of ['a', 'b', 'c', 'd']) void refusedFor(queue.run(address, hashes.hash(address)));
    expect(await refusedFor(queue.run('e', hashes.hash('e')))).toBe(100);
    // Back at its time, the line still full (nothing finished: the drain rate was optimistic).
    now = 100;
    expect(await Promise.race([refusedFor(queue.run('e', hashes.hash('e'))), Promise.resolve('queued')])).toBe('queued');
    expect(queue.waiting).toBe(4);
    // Its promise is used up: a second request past the bound is refused again.
    expect(await refusedFor(queue.run('e', hashes.hash('e2')))).toBeGreaterThan(0);
  });
});

describe('FairHashingQueue drain rate', () => {
  it('counts a hash running longer than the measured time before it finishes: the rate has dropped', async () => {
    let now = 0;
    const hashes = new ManualHashes();
    const queue = new FairHashingQueue(1, 1_000, 100, () => now);
    void queue.run('a', hashes.hash('a1'));
    expect(queue.drainPerSecond).toBe(10);
    now = 500; // a1 still running after 500 ms: at most 2 hashes a second now
    expect(queue.drainPerSecond).toBe(2);
    // At that rate b waits 0.5 s and c 1 s (the bound): queued; d would wait 1.5 s: refused.
    void queue.run('b', hashes.hash('b1'));
    void queue.run('c', hashes.hash('c1'));
    expect(queue.waiting).toBe(2);
    expect(await refusedFor(queue.run('d', hashes.hash('d1')))).toBe(500);
  });
});
