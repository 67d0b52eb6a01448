import { SoldOutMemory, SoldOutMemorySource, StockState } from './sold-out-memory';

/** Coupons whose holders are listed by id; every stock read answers "still sold out, version 1". */
class Holders implements SoldOutMemorySource {
  readonly pageLimits: number[] = [];
  constructor(private readonly holdersOf: Record<string, string[]>) {}

  async stockState(): Promise<StockState | null> {
    return { stockVersion: 1, window: { kind: 'open' } };
  }

  async holderIds(couponId: string, limit: number): Promise<string[]> {
    this.pageLimits.push(limit);
    return this.holdersOf[couponId].slice(0, limit + 1);
  }
}

const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

describe('SoldOutMemory bounds', () => {
  it('keeps at most maxCoupons coupons: the least recently answered one is forgotten first', async () => {
    const source = new Holders({ a: ['u1'], b: ['u2'], c: ['u3'] });
    const memory = new SoldOutMemory(source, { maxCoupons: 2 });
    await memory.remember('A', 'a', 1);
    await memory.remember('B', 'b', 1);
    // A answered after B was remembered: B is now the least recently used.
    expect(await memory.answer('A', 'u1')).toEqual({ kind: 'already_claimed' });
    await memory.remember('C', 'c', 1);
    expect([memory.knows('A'), memory.knows('B'), memory.knows('C')]).toEqual([true, false, true]);
    expect(memory.size).toEqual({ coupons: 2, holders: 2 });
    // A forgotten coupon's claims go through a batch: answer says so (null), never a refusal.
    expect(await memory.answer('B', 'u2')).toBeNull();
  });

  it('keeps at most maxHolders holder ids over all coupons, evicting whole coupons', async () => {
    const source = new Holders({ a: ids('a', 3), b: ids('b', 3), c: ids('c', 2) });
    const memory = new SoldOutMemory(source, { maxHolders: 5 });
    await memory.remember('A', 'a', 1);
    await memory.remember('B', 'b', 1);
    expect([memory.knows('A'), memory.knows('B')]).toEqual([false, true]);
    await memory.remember('C', 'c', 1);
    expect(memory.size).toEqual({ coupons: 2, holders: 5 });
    expect(await memory.answer('C', 'c1')).toEqual({ kind: 'already_claimed' });
    expect(await memory.answer('C', 'someone-else')).toEqual({ kind: 'sold_out' });
  });

  it('reads holders in one page of the per-coupon limit + 1, and remembers no holders of a coupon past it', async () => {
    const source = new Holders({ big: ids('u', 50) });
    const memory = new SoldOutMemory(source, { maxHolders: 10 });
    await memory.remember('BIG', 'big', 1);
    expect(source.pageLimits).toEqual([10]);
    expect(memory.knows('BIG')).toBe(false);
    expect(memory.size.holders).toBe(0);
  });
});
