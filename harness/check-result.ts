/** One named check of a run, and what it saw. */
export interface CheckResult {
  name: string;
  passed: boolean;
  detail: string;
}
