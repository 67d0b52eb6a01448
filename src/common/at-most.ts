/**
 * A gate for async tasks: what it returns runs each task given to it with at most `limit` of
 * them in progress at once; the others start in call order as places free up.
 */
export function atMost(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queued: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => queued.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      queued.shift()?.();
    }
  };
}
