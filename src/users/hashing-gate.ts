/**
 * At most `capacity` tasks at once, and no queue: `tryRun` refuses (returns null without
 * starting the task) when every slot is taken. For bcrypt, whose hashes queue invisibly inside
 * libuv's thread pool: a queued hash still costs its full CPU later, so waiting in line only
 * turns a flood into minutes of starved claims. Refusing at the door keeps the cost bounded.
 */
export class HashingGate {
  private running = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`HashingGate capacity must be a positive integer, got ${capacity}`);
  }

  /** Hashes running now. */
  get inFlight(): number {
    return this.running;
  }

  get full(): boolean {
    return this.running >= this.capacity;
  }

  /** Runs `task` in a free slot, or returns null at once when there is none. */
  tryRun<T>(task: () => Promise<T>): Promise<T> | null {
    if (this.full) return null;
    this.running++;
    let result: Promise<T>;
    try {
      result = task();
    } catch (error) {
      this.running--;
      return Promise.reject(error);
    }
    return result.finally(() => {
      this.running--;
    });
  }
}
