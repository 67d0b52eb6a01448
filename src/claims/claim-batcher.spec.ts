import { ClaimBatcher, QueueWaitExpiredError } from './claim-batcher';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ClaimBatcher', () => {
  it('settles concurrent requests for one key in arrival order, batching while a batch runs', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = new ClaimBatcher<number, string>(
      async (_key, requests) => {
        batches.push(requests);
        if (batches.length === 1) await gate;
        return requests.map((r) => `ok:${r}`);
      },
      3,
      0,
    );
    const answers = [1, 2, 3, 4, 5, 6, 7].map((n) => batcher.submit('A', n));
    await tick();
    release();
    expect(await Promise.all(answers)).toEqual(['ok:1', 'ok:2', 'ok:3', 'ok:4', 'ok:5', 'ok:6', 'ok:7']);
    // The first request went alone; the rest queued behind it, at most 3 at a time.
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6, 7]]);
  });

  it('keeps keys apart', async () => {
    const seen: string[] = [];
    const batcher = new ClaimBatcher<string, string>(async (key, requests) => {
      seen.push(`${key}:${requests.join(',')}`);
      return requests;
    }, 10, 0);
    await Promise.all([batcher.submit('A', 'a1'), batcher.submit('B', 'b1'), batcher.submit('A', 'a2')]);
    expect(seen.sort()).toEqual(['A:a1', 'A:a2', 'B:b1']);
  });

  it('a failed batch rejects every member with its error, and the queue goes on', async () => {
    let calls = 0;
    const batcher = new ClaimBatcher<number, number>(async (_key, requests) => {
      calls++;
      if (calls === 1) throw new Error('transaction failed');
      return requests;
    }, 10, 0);
    const first = batcher.submit('A', 1);
    await expect(first).rejects.toThrow('transaction failed');
    await expect(batcher.submit('A', 2)).resolves.toBe(2);
  });

  it('waits up to maxWaitMs to fill a batch', async () => {
    const sizes: number[] = [];
    const batcher = new ClaimBatcher<number, number>(async (_key, requests) => {
      sizes.push(requests.length);
      return requests;
    }, 10, 30);
    const first = batcher.submit('A', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = batcher.submit('A', 2);
    await Promise.all([first, second]);
    expect(sizes).toEqual([2]);
  });

  it('whenIdle resolves after every accepted request is answered', async () => {
    let answered = 0;
    const batcher = new ClaimBatcher<number, number>(async (_key, requests) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      answered += requests.length;
      return requests;
    }, 10, 0);
    void batcher.submit('A', 1);
    void batcher.submit('A', 2);
    expect(batcher.pending).toBe(2);
    await batcher.whenIdle();
    expect(answered).toBe(2);
    expect(batcher.pending).toBe(0);
  });

  it('a request queued behind a stuck batch leaves unsettled after maxQueueWaitMs; the stuck batch keeps its members', async () => {
    const settled: number[][] = [];
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const batcher = new ClaimBatcher<number, number>(
      async (_key, requests) => {
        settled.push(requests);
        if (settled.length === 1) await stuck;
        return requests;
      },
      10,
      0,
      undefined,
      50,
    );
    const first = batcher.submit('A', 1);
    const queued = [batcher.submit('A', 2), batcher.submit('A', 3)];
    const started = performance.now();
    for (const answer of queued) await expect(answer).rejects.toBeInstanceOf(QueueWaitExpiredError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(batcher.pending).toBe(1);
    release();
    await expect(first).resolves.toBe(1);
    // Never settled, so their clients may retry without a double claim.
    expect(settled).toEqual([[1]]);
    // The queue goes on: a later request is settled as usual.
    await expect(batcher.submit('A', 4)).resolves.toBe(4);
  });

  it('with no stuck batch, requests never expire however long the queue runs', async () => {
    const batcher = new ClaimBatcher<number, number>(
      async (_key, requests) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return requests;
      },
      2,
      0,
      undefined,
      150,
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
