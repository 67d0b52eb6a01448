/**
 * `work`, or a rejection with `new Error(message)` after `ms`, whichever comes first. The
 * timer is cleared either way; `onLate` runs when the timeout wins (to quiet `work`'s later
 * rejection, say).
 */
export function withTimeout<T>(work: Promise<T>, ms: number, message: string, onLate?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate?.();
      reject(new Error(message));
    }, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
