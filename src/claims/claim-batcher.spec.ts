import { BatchGroup, ClaimBatcher, QueueWaitExpiredError } from './claim-batcher';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};
const show = <T>(groups: BatchGroup<T>[]) => groups.map((g) => `${g.key}:${g.requests.join(',')}`).join(' ');

describe('ClaimBatcher', () => {
  it('settles concurrent requests for one key in arrival order, batching while a batch runs', async () => {
    const batches: string[] = [];
    const first = gate();
    const batcher = new ClaimBatcher<number, string>(
      (groups) => {
        batches.push(show(groups));
        return groups.map(async (g) => {
          if (batches.length === 1) await first.opened;
          return g.requests.map((r) => `ok:${r}`);
        });
      },
      { maxBatchSize: 3, maxWaitMs: 0 },
    );
    const answers = [batcher.submit('A', 1)];
    await tick();
    answers.push(...[2, 3, 4, 5, 6, 7].map((n) => batcher.submit('A', n)));
    await tick();
    first.open();
    expect(await Promise.all(answers)).toEqual(['ok:1', 'ok:2', 'ok:3', 'ok:4', 'ok:5', 'ok:6', 'ok:7']);
    // The first request went alone; the rest queued behind it, at most 3 at a time, one batch of a key at a time.
    expect(batches).toEqual(['A:1', 'A:2,3,4', 'A:5,6,7']);
  });

  it('puts the queued requests of several keys in one batch, grouped by key in arrival order', async () => {
    const batches: string[] = [];
    const batcher = new ClaimBatcher<string, string>(
      (groups) => {
        batches.push(show(groups));
        return groups.map(async (g) => g.requests.map((r) => `${g.key}/${r}`));
      },
      { maxBatchSize: 10, maxWaitMs: 0 },
    );
    const answers = await Promise.all([batcher.submit('A', 'a1'), batcher.submit('B', 'b1'), batcher.submit('A', 'a2')]);
    expect(answers).toEqual(['A/a1', 'B/b1', 'A/a2']);
    expect(batches).toEqual(['A:a1,a2 B:b1']);
  });

  it('never settles one key in two batches at once, but lets other keys start a second batch', async () => {
    const batches: string[] = [];
    const first = gate();
    const batcher = new ClaimBatcher<number, number>(
      (groups) => {
        const index = batches.push(show(groups));
        return groups.map(async (g) => {
          if (index === 1) await first.opened;
          return g.requests;
        });
      },
      { maxBatchSize: 10, maxWaitMs: 0 },
    );
    const a1 = batcher.submit('A', 1);
    await tick();
    const later = [batcher.submit('A', 2), batcher.submit('B', 3)];
    await tick();
    // A is in flight: B went ahead in a second batch, A's second claim waits for A's first batch.
    expect(batches).toEqual(['A:1', 'B:3']);
    first.open();
    await Promise.all([a1, ...later]);
    expect(batches).toEqual(['A:1', 'B:3', 'A:2']);
  });

  it('a failed group rejects its members with its error; the other groups of the batch are answered, and the queue goes on', async () => {
    let calls = 0;
    const batcher = new ClaimBatcher<number, number>(
      (groups) => {
        calls++;
        return groups.map(async (g) => {
          if (calls === 1 && g.key === 'A') throw new Error('transaction failed');
          return g.requests;
        });
      },
      { maxBatchSize: 10, maxWaitMs: 0 },
    );
    const a = batcher.submit('A', 1);
    const b = batcher.submit('B', 2);
    await expect(a).rejects.toThrow('transaction failed');
    await expect(b).resolves.toBe(2);
    await expect(batcher.submit('A', 3)).resolves.toBe(3);
    expect(batcher.pending).toBe(0);
  });

  it('a settler that throws at once rejects the whole batch, and the queue goes on', async () => {
    let calls = 0;
    const batcher = new ClaimBatcher<number, number>(
      (groups) => {
        if (++calls === 1) throw new Error('no settlement');
        return groups.map(async (g) => g.requests);
      },
      { maxBatchSize: 10, maxWaitMs: 0 },
    );
    await expect(batcher.submit('A', 1)).rejects.toThrow('no settlement');
    await expect(batcher.submit('A', 2)).resolves.toBe(2);
  });

  it("frees a group's key when its own settlement ends, even while another group of its batch is still settling", async () => {
    const batches: string[] = [];
    const slow = gate();
    const batcher = new ClaimBatcher<number, number>(
      (groups) => {
        batches.push(show(groups));
        return groups.map(async (g) => {
          if (g.key === 'SLOW') await slow.opened;
          return g.requests;
        });
      },
      { maxBatchSize: 10, maxWaitMs: 0 },
    );
    const stuck = batcher.submit('SLOW', 1);
    await expect(batcher.submit('FAST', 2)).resolves.toBe(2);
    // FAST's first batch is still open (SLOW holds it), yet FAST's next claim settles in the other slot.
    await expect(batcher.submit('FAST', 3)).resolves.toBe(3);
    expect(batches).toEqual(['SLOW:1 FAST:2', 'FAST:3']);
    slow.open();
    await expect(stuck).resolves.toBe(1);
  });

  it("starts a key's queued claims as soon as its group is answered, while another group of that batch still settles", async () => {
    const batches: string[] = [];
    const slow = gate();
    const fast = gate();
    const batcher = new ClaimBatcher<number, number>(
      (groups) => {
        batches.push(show(groups));
        return groups.map(async (g) => {
          await (g.key === 'SLOW' ? slow.opened : batches.length === 1 ? fast.opened : undefined);
          return g.requests;
        });
      },
      { maxBatchSize: 10, maxWaitMs: 0 },
    );
    const stuck = batcher.submit('SLOW', 1);
    const first = batcher.submit('FAST', 2);
    await tick();
    // FAST is in flight in the first batch, so this one waits for FAST's group, not for SLOW's.
    const queued = batcher.submit('FAST', 3);
    await tick();
    fast.open();
    await expect(first).resolves.toBe(2);
    const stalled = new Promise((resolve) => setTimeout(() => resolve('stalled'), 200));
    await expect(Promise.race([queued, stalled])).resolves.toBe(3);
    expect(batches).toEqual(['SLOW:1 FAST:2', 'FAST:3']);
    slow.open();
    await expect(stuck).resolves.toBe(1);
  });

  it('waits up to maxWaitMs to fill a batch', async () => {
    const sizes: number[] = [];
    const batcher = new ClaimBatcher<number, number>(
      (groups) => {
        sizes.push(groups.reduce((sum, g) => sum + g.requests.length, 0));
        return groups.map(async (g) => g.requests);
      },
      { maxBatchSize: 10, maxWaitMs: 30 },
    );
    const first = batcher.submit('A', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = batcher.submit('B', 2);
    await Promise.all([first, second]);
    expect(sizes).toEqual([2]);
  });

  it('whenIdle resolves after every accepted request is answered', async () => {
    let answered = 0;
    const batcher = new ClaimBatcher<number, number>(
      (groups) =>
        groups.map(async (g) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          answered += g.requests.length;
          return g.requests;
        }),
      { maxBatchSize: 10, maxWaitMs: 0 },
    );
    void batcher.submit('A', 1);
    void batcher.submit('B', 2);
    expect(batcher.pending).toBe(2);
    await batcher.whenIdle();
    expect(answered).toBe(2);
    expect(batcher.pending).toBe(0);
  });

  it('a request queued behind a stuck batch of its key leaves unsettled after maxQueueWaitMs; the stuck batch keeps its members', async () => {
    const settled: string[] = [];
    const stuck = gate();
    const batcher = new ClaimBatcher<number, number>(
      (groups) => {
        settled.push(show(groups));
        return groups.map(async (g) => {
          if (settled.length === 1) await stuck.opened;
          return g.requests;
        });
      },
      { maxBatchSize: 10, maxWaitMs: 0, maxConcurrentBatches: 2, maxQueueWaitMs: 50 },
    );
    const first = batcher.submit('A', 1);
    await tick();
    const queued = [batcher.submit('A', 2), batcher.submit('A', 3)];
    // Another key is not held up by A's stuck batch.
    await expect(batcher.submit('B', 9)).resolves.toBe(9);
    const started = performance.now();
    for (const answer of queued) await expect(answer).rejects.toBeInstanceOf(QueueWaitExpiredError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(30);
    expect(batcher.pending).toBe(1);
    stuck.open();
    await expect(first).resolves.toBe(1);
    // Never settled, so their clients may retry without a double claim.
    expect(settled).toEqual(['A:1', 'B:9']);
    // The queue goes on: a later request is settled as usual.
    await expect(batcher.submit('A', 4)).resolves.toBe(4);
    expect(batcher.pending).toBe(0);
  });

  it('with no stuck batch, requests never expire however long the queue runs', async () => {
    const batcher = new ClaimBatcher<number, number>(
      (groups) =>
        groups.map(async (g) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return g.requests;
        }),
      { maxBatchSize: 2, maxWaitMs: 0, maxConcurrentBatches: 2, maxQueueWaitMs: 150 },
    );
    // Requests arrive as fast as batches take them, so the queue is never empty for 300 ms,
    // but each request waits about one batch (20 ms) for its turn.
    const answers: Promise<number>[] = [];
    for (let i = 0; i < 30; i++) {
      answers.push(batcher.submit('A', i));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await expect(Promise.all(answers)).resolves.toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});
