import * as bcrypt from 'bcrypt';
import { HashingThreads } from './hashing-threads';

describe('HashingThreads', () => {
  let threads: HashingThreads;
  afterEach(() => threads.close());

  it('hashes and compares like bcrypt, on as many jobs as asked (the extra ones wait for a thread)', async () => {
    threads = new HashingThreads(2, 10);
    const hashes = await Promise.all(['one-password', 'two-password', 'three-password'].map((p) => threads.hash(p, 4)));
    for (const hash of hashes) expect(hash).toMatch(/^\$2b\$04\$/);
    expect(await bcrypt.compare('two-password', hashes[1])).toBe(true);
    expect(await threads.compare('three-password', hashes[2])).toBe(true);
    expect(await threads.compare('wrong-password', hashes[2])).toBe(false);
  });

  it('a thread that dies fails its job and is replaced', async () => {
    threads = new HashingThreads(1, 10);
    const internals = threads as unknown as { idle: { terminate(): Promise<number> }[] };
    await internals.idle[0].terminate();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await threads.compare('password', await threads.hash('password', 4))).toBe(true);
  });
});
