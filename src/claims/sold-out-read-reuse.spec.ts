import { SoldOutMemory } from './sold-out-memory';
import { soldOutReadReuseMs, waitOutSoldOutReads } from './sold-out-read-reuse';

describe('the wait an admin change owes the sold-out memory', () => {
  it('lasts longer than a read may be reused, so no read started before the change answers after it', async () => {
    const config = { SOLD_OUT_READ_REUSE_MS: 40 };
    let now = 0;
    let reads = 0;
    const memory = new SoldOutMemory(
      { stockState: async () => (reads++, { stockVersion: 1, window: { kind: 'open' } }), holderIds: async () => [] },
      { reuseMs: soldOutReadReuseMs(config), now: () => now },
    );
    await memory.remember('C', '1', 1);
    await memory.answer('C', 'u1');
    const started = performance.now();
    await waitOutSoldOutReads(config);
    now += performance.now() - started;
    // The read taken before the wait is no longer reused: the next claim reads again.
    await memory.answer('C', 'u2');
    expect(reads).toBe(2);
  });

  it('is no wait when reads are never reused', async () => {
    const started = performance.now();
    await waitOutSoldOutReads({ SOLD_OUT_READ_REUSE_MS: 0 });
    expect(soldOutReadReuseMs({ SOLD_OUT_READ_REUSE_MS: 0 })).toBe(0);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
