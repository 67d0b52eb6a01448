import { StatementCoalescer } from './statement-coalescer';

describe('StatementCoalescer', () => {
  it('sends what arrives during a call in the next call, in order, at most maxPerCall at a time', async () => {
    const calls: number[][] = [];
    const coalescer = new StatementCoalescer<number, number>(async (inputs) => {
      calls.push(inputs);
      await new Promise((resolve) => setTimeout(resolve, 10));
      return inputs.map((n) => n * 2);
    }, 3);
    const first = coalescer.submit(1);
    const rest = [2, 3, 4, 5].map((n) => coalescer.submit(n));
    expect(await Promise.all([first, ...rest])).toEqual([2, 4, 6, 8, 10]);
    expect(calls).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('rejects every input of a failed call, and the next call still runs', async () => {
    let fail = true;
    const coalescer = new StatementCoalescer<number, number>(async (inputs) => {
      if (fail) {
        fail = false;
        throw new Error('database gone');
      }
      return inputs;
    }, 10);
    const failed = [coalescer.submit(1), coalescer.submit(2)].map((p) => p.catch((e: Error) => e.message));
    expect(await Promise.all(failed)).toEqual(['database gone', 'database gone']);
    expect(await coalescer.submit(3)).toBe(3);
  });
});
