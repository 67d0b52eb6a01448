import { SaleWindow } from './claim-decision';
import { SoldOutMemory, SoldOutMemorySource, StockState } from './sold-out-memory';

const OPEN: SaleWindow = { kind: 'open' };

/**
 * An in-memory stand-in for the coupons table: the version and window are what the test sets,
 * and each stock read resolves only when the test releases it, so the order of reads and
 * arrivals is the test's to choose. (The e2e tests run the same class against PostgreSQL.)
 */
class Table implements SoldOutMemorySource {
  state: StockState | null = { stockVersion: 1, window: OPEN };
  holders: string[] = ['h1', 'h2'];
  holdersError: Error | null = null;
  readonly reads: { resolve: () => void; startedWith: StockState | null }[] = [];
  holderLoads = 0;

  stockState(): Promise<StockState | null> {
    // The read sees the table as it is when the read starts, like one SELECT.
    const startedWith = this.state && { ...this.state };
    return new Promise((resolve) => this.reads.push({ resolve: () => resolve(startedWith), startedWith }));
  }

  async holderIds(): Promise<string[]> {
    this.holderLoads++;
    if (this.holdersError) throw this.holdersError;
    return [...this.holders];
  }

  /** Lets the oldest pending read answer, then lets promise callbacks run. */
  async finishRead(): Promise<void> {
    this.reads.shift()!.resolve();
    await flush();
  }
}

/** A table whose stock reads fail with `message` until `fail` is cleared. */
class FailingTable extends Table {
  fail = true;
  constructor(private readonly message: string) {
    super();
  }
  override stockState(): Promise<StockState | null> {
    return this.fail ? Promise.reject(new Error(this.message)) : super.stockState();
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('SoldOutMemory', () => {
  let table: Table;
  let memory: SoldOutMemory;
  beforeEach(async () => {
    table = new Table();
    memory = new SoldOutMemory(table, { maxHolders: 5 });
    await memory.remember('C', '10', 1);
  });

  it('knows a coupon once its holders are loaded, and answers a holder without any read', async () => {
    expect(memory.knows('C')).toBe(true);
    expect(memory.knows('OTHER')).toBe(false);
    expect(memory.knows(42)).toBe(false);
    expect(await memory.answer('C', 'h1')).toEqual({ kind: 'already_claimed' });
    expect(table.reads).toHaveLength(0);
  });

  it('answers SOLD_OUT while the version is the one it remembered', async () => {
    const answer = memory.answer('C', 'u');
    expect(table.reads).toHaveLength(1);
    await table.finishRead();
    expect(await answer).toEqual({ kind: 'sold_out' });
  });

  it('answers the window the read saw: SALE_ENDED, SALE_NOT_STARTED', async () => {
    table.state = { stockVersion: 1, window: { kind: 'ended' } };
    const ended = memory.answer('C', 'u');
    await table.finishRead();
    expect(await ended).toEqual({ kind: 'ended' });
    table.state = { stockVersion: 1, window: { kind: 'not_started', secondsUntilStart: 7 } };
    const early = memory.answer('C', 'u');
    await table.finishRead();
    expect(await early).toEqual({ kind: 'not_started', secondsUntilStart: 7 });
  });

  it('forgets the coupon when the version moved (a restock) or the coupon is gone', async () => {
    table.state = { stockVersion: 2, window: OPEN };
    const answer = memory.answer('C', 'u');
    await table.finishRead();
    expect(await answer).toBeNull();
    expect(memory.knows('C')).toBe(false);

    await memory.remember('C', '10', 2);
    table.state = null;
    const gone = memory.answer('C', 'u');
    await table.finishRead();
    expect(await gone).toBeNull();
    expect(memory.knows('C')).toBe(false);
  });

  it('never answers from a read that started before the claim arrived', async () => {
    const early = memory.answer('C', 'u1'); // starts read 1, sees version 1
    table.state = { stockVersion: 2, window: OPEN }; // a restock commits while read 1 is in flight
    const late = memory.answer('C', 'u2'); // arrived after the restock: must not share read 1
    const later = memory.answer('C', 'u3'); // joins the same queued read as u2
    expect(table.reads).toHaveLength(1); // one read in flight per coupon
    await table.finishRead();
    expect(await early).toEqual({ kind: 'sold_out' }); // true when read 1 started
    expect(table.reads).toHaveLength(1); // the queued read started only now
    expect(table.reads[0].startedWith?.stockVersion).toBe(2);
    await table.finishRead();
    expect(await late).toBeNull();
    expect(await later).toBeNull();
  });

  it('a crowd shares reads: many claims, one read in flight, one queued', async () => {
    const answers = Array.from({ length: 50 }, (_, i) => memory.answer('C', `u${i}`));
    expect(table.reads).toHaveLength(1);
    await table.finishRead();
    expect(table.reads).toHaveLength(1);
    await table.finishRead();
    expect(table.reads).toHaveLength(0);
    expect((await Promise.all(answers)).every((a) => a?.kind === 'sold_out')).toBe(true);
  });

  it.each([0, 100])(
    'a failed read rejects the claims that joined it, and the next claim reads again, never reusing it (reuseMs %i)',
    async (reuseMs) => {
      const failing = new FailingTable('connection refused');
      const m = new SoldOutMemory(failing, { reuseMs, maxHolders: 5, now: () => 1000 });
      await m.remember('C', '10', 1);
      await expect(m.answer('C', 'u')).rejects.toThrow('connection refused');
      failing.fail = false;
      const next = m.answer('C', 'u');
      await failing.finishRead();
      expect(await next).toEqual({ kind: 'sold_out' });
    },
  );

  it('keeps no holders above its limit: such a coupon is never answered from memory', async () => {
    table.holders = ['a', 'b', 'c', 'd', 'e', 'f'];
    await memory.remember('BIG', '11', 1);
    expect(memory.knows('BIG')).toBe(false);
    expect(await memory.answer('BIG', 'a')).toBeNull();
    table.holders = ['a', 'b', 'c', 'd', 'e'];
    await memory.remember('EDGE', '12', 1);
    expect(memory.knows('EDGE')).toBe(true);
  });

  it('drops a coupon whose holders could not be loaded', async () => {
    table.holdersError = new Error('timeout');
    await memory.remember('D', '13', 1);
    expect(memory.knows('D')).toBe(false);
    expect(await memory.answer('D', 'u')).toBeNull();
  });

  it('remembers a newer version, ignores an older or equal one', async () => {
    const loads = table.holderLoads;
    await memory.remember('C', '10', 1);
    await memory.remember('C', '10', 0);
    expect(table.holderLoads).toBe(loads);
    table.holders = ['h1', 'h2', 'h3'];
    await memory.remember('C', '10', 2);
    expect(await memory.answer('C', 'h3')).toEqual({ kind: 'already_claimed' });
    // A coupon recreated under the same name is a new coupon.
    await memory.remember('C', '99', 1);
    expect(table.holderLoads).toBe(loads + 2);
  });

  describe('with reuseMs (admin changes wait that long before answering)', () => {
    let clock: number;
    let reusing: SoldOutMemory;
    beforeEach(async () => {
      clock = 1000;
      reusing = new SoldOutMemory(table, { reuseMs: 100, maxHolders: 5, now: () => clock });
      await reusing.remember('C', '10', 1);
    });

    it('answers from a read that started less than reuseMs ago, then reads again', async () => {
      const first = reusing.answer('C', 'u1');
      await table.finishRead();
      expect(await first).toEqual({ kind: 'sold_out' });
      clock += 99;
      table.state = { stockVersion: 2, window: OPEN };
      expect(await reusing.answer('C', 'u2')).toEqual({ kind: 'sold_out' }); // the same read, no new one
      expect(table.reads).toHaveLength(0);
      clock += 1; // reuseMs after the read started: an admin change has not answered 200 before now
      const fresh = reusing.answer('C', 'u3');
      expect(table.reads).toHaveLength(1);
      await table.finishRead();
      expect(await fresh).toBeNull();
    });
  });
});
