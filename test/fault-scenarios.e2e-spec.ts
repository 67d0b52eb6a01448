import { FAULT_SCENARIOS, ScenarioResult } from '../harness/fault-scenarios';

/**
 * The scale-out and fault scenarios of documentation/reliability.md, run against the built
 * service as separate processes (npm test builds first). Each scenario owns its processes.
 */
describe('scale-out and faults (separate API processes, a 3-node Redlock quorum)', () => {
  const failed = (result: ScenarioResult) => result.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);

  for (const scenario of FAULT_SCENARIOS) {
    it(`${scenario.id}. ${scenario.title}`, async () => {
      const result = await scenario.run();
      expect(failed(result)).toEqual([]);
      // Every scenario judged something, and the database fence held.
      expect(result.checks.length).toBeGreaterThan(2);
      expect(result.oversell).toBe(0);
      expect(result.rows).toBeGreaterThan(0);
    }, 180_000);
  }
});
