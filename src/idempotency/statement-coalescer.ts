/**
 * Runs `write` on whatever was submitted while the previous call ran, at most `maxPerCall` at a
 * time, one call at a time: a crowd of small statements becomes one statement per round trip.
 * `write` answers one result per input, in order; if it throws, every input of that call rejects.
 */
export class StatementCoalescer<Input, Output> {
  private queued: { input: Input; resolve(output: Output): void; reject(error: unknown): void }[] = [];
  private running = false;

  constructor(
    private readonly write: (inputs: Input[]) => Promise<Output[]>,
    private readonly maxPerCall: number,
  ) {}

  submit(input: Input): Promise<Output> {
    return new Promise((resolve, reject) => {
      this.queued.push({ input, resolve, reject });
      if (this.running) return;
      this.running = true;
      // On a microtask: inputs submitted in the same turn (one socket read of many requests) share the first call.
      queueMicrotask(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const waiters = this.queued.splice(0, this.maxPerCall);
        try {
          const outputs = await this.write(waiters.map((w) => w.input));
          waiters.forEach((waiter, i) => waiter.resolve(outputs[i]));
        } catch (error) {
          waiters.forEach((waiter) => waiter.reject(error));
        }
      }
    } finally {
      this.running = false;
    }
  }
}
