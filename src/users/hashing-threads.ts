import { Worker } from 'node:worker_threads';

/**
 * The code of one hashing thread. It lowers its own scheduling priority (Linux: a thread's nice
 * value is its own; elsewhere this is skipped), then runs bcrypt synchronously, one job at a time.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const bcrypt = require(workerData.bcryptPath);
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), workerData.nice);
} catch {
  // Not Linux, or not allowed: hashes run at normal priority.
}
parentPort.on('message', ({ id, op, password, cost, hash }) => {
  try {
    const result = op === 'hash' ? bcrypt.hashSync(password, cost) : bcrypt.compareSync(password, hash);
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});`;

type Job = { op: 'hash'; password: string; cost: number } | { op: 'compare'; password: string; hash: string };

/**
 * bcrypt on `count` threads of its own at a lower CPU priority (nice `nice`), instead of libuv's
 * pool at the event loop's priority: when the cores are short, the kernel gives them to the
 * event loop that answers claims first, and hashing gets what is left. On an idle core a hash
 * runs at full speed. Callers keep at most `count` jobs in flight (FairHashingQueue); a job that
 * finds every thread busy waits for the first one free.
 */
export class HashingThreads {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: ((worker: Worker) => void)[] = [];
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; worker: Worker }>();
  private nextId = 0;

  private closing = false;

  constructor(
    count: number,
    private readonly nice: number,
  ) {
    for (let i = 0; i < count; i++) this.idle.push(this.spawn());
  }

  private spawn(): Worker {
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { nice: this.nice, bcryptPath: require.resolve('bcrypt') } });
    // Idle hashing threads must not keep a process alive.
    worker.unref();
    worker.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: string }) => {
      const job = this.pending.get(id);
      if (!job) return;
      this.pending.delete(id);
      this.release(job.worker);
      if (error !== undefined) job.reject(new Error(`bcrypt failed: ${error}`));
      else job.resolve(result);
    });
    // A thread that dies fails its job and is replaced, so no later job waits for it for ever.
    worker.once('exit', () => {
      this.all.splice(this.all.indexOf(worker), 1);
      const idleAt = this.idle.indexOf(worker);
      if (idleAt >= 0) this.idle.splice(idleAt, 1);
      this.failAll(worker, new Error('a hashing thread stopped'));
      if (!this.closing) this.release(this.spawn());
    });
    worker.on('error', () => undefined); // followed by 'exit'
    this.all.push(worker);
    return worker;
  }

  hash(password: string, cost: number): Promise<string> {
    return this.run({ op: 'hash', password, cost }) as Promise<string>;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.run({ op: 'compare', password, hash }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.all].map((worker) => worker.terminate()));
  }

  private async run(job: Job): Promise<unknown> {
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.ref(); // a job in flight keeps the process alive until its answer
      worker.postMessage({ id, ...job });
    });
  }

  private release(worker: Worker): void {
    worker.unref();
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }

  private failAll(worker: Worker, error: Error): void {
    for (const [id, job] of this.pending) {
      if (job.worker !== worker) continue;
      this.pending.delete(id);
      job.reject(error);
    }
  }
}
