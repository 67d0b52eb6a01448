import { ScenarioResult } from '../harness/fault-sale';
import { FAULT_SCENARIOS } from './faults/fault-scenario-list';

/** A whole scenario: start-up, a sale of up to 5,000 users, a fault lasting up to 25 s, teardown. */
const SCENARIO_TIMEOUT_MS = 180_000;

/**
 * The scale-out and fault scenarios of documentation/reliability.md (one file each under
 * test/faults/, listed in test/faults/fault-scenario-list.ts), run against the built service as
 * separate processes (npm test builds first). Each scenario owns its processes.
 */
describe('scale-out and faults (separate API processes, a 3-node Redlock quorum)', () => {
  const failed = (result: ScenarioResult) => result.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);

  for (const scenario of FAULT_SCENARIOS) {
    it(
      `${scenario.id}. ${scenario.title}`,
      async () => {
        const result = await scenario.run();
        expect(failed(result)).toEqual([]);
        // Every scenario judged something, and the database fence held.
        expect(result.checks.length).toBeGreaterThan(2);
        expect(result.oversell).toBe(0);
        expect(result.rows).toBeGreaterThan(0);
        if (scenario.requiredChecks) expect(result.checks.map((c) => c.name)).toEqual(expect.arrayContaining(scenario.requiredChecks));
        if (scenario.sellsOut) expect(result.rows).toBe(result.stock);
      },
      SCENARIO_TIMEOUT_MS,
    );
  }
});
