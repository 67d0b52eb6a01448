/** One pass/fail target of `npm run bench` and its rows: what it asks, whether it held, the measured value. */
export interface BenchTarget {
  name: string;
  passed: boolean;
  detail: string;
}
