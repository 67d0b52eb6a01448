import { HashingGate } from './hashing-gate';

const deferred = () => {
  let resolve!: (value: string) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

describe('HashingGate', () => {
  it('runs up to its capacity at once and refuses the next without starting it', async () => {
    const gate = new HashingGate(2);
    const first = deferred();
    const second = deferred();
    const a = gate.tryRun(() => first.promise);
    const b = gate.tryRun(() => second.promise);
    let started = false;
    const c = gate.tryRun(async () => {
      started = true;
      return 'c';
    });
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(c).toBeNull();
    expect(started).toBe(false);
    expect(gate.inFlight).toBe(2);
    first.resolve('a');
    await expect(a).resolves.toBe('a');
    expect(gate.full).toBe(false);
    await expect(gate.tryRun(async () => 'd')).resolves.toBe('d');
    second.resolve('b');
    await b;
    expect(gate.inFlight).toBe(0);
  });

  it('frees the slot when a task fails, whether it rejects or throws before returning a promise', async () => {
    const gate = new HashingGate(1);
    const failing = deferred();
    const run = gate.tryRun(() => failing.promise);
    failing.reject(new Error('bcrypt failed'));
    await expect(run).rejects.toThrow('bcrypt failed');
    await expect(
      gate.tryRun(() => {
        throw new Error('threw');
      }),
    ).rejects.toThrow('threw');
    expect(gate.inFlight).toBe(0);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new HashingGate(0)).toThrow(/positive integer/);
  });
});
