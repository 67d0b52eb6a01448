import { FaultScenario, ScenarioResult } from '../../harness/fault-sale-types';

/** A whole scenario: start-up, a sale of up to 5,000 users, a fault lasting up to 25 s, teardown. */
const SCENARIO_TIMEOUT_MS = 180_000;

/**
 * One jest file's share of the fault scenarios (documentation/reliability.md; one file each
 * under test/faults/, listed in test/faults/fault-scenario-list.ts). They run against the built
 * service as separate processes (npm test builds first); each scenario owns its processes,
 * database, Redis nodes, exchange and queue, so two files run side by side (`npm run
 * test:faults`, two workers): a scenario mostly waits out its fault, the machine about a
 * quarter busy over the whole tier.
 */
export function describeFaultScenarios(
  title: string,
  scenarios: FaultScenario[],
  expected: { minChecks: number; timeoutMs: number } = { minChecks: 2, timeoutMs: SCENARIO_TIMEOUT_MS },
): void {
  const failed = (result: ScenarioResult) => result.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);

  describe(title, () => {
    for (const scenario of scenarios) {
      it(
        `${scenario.id}. ${scenario.title}`,
        async () => {
          const result = await scenario.run();
          expect(failed(result)).toEqual([]);
          // Every scenario judged something, and the database fence held.
          expect(result.checks.length).toBeGreaterThan(expected.minChecks);
          expect(result.oversell).toBe(0);
          expect(result.rows).toBeGreaterThan(0);
          if (scenario.requiredChecks) expect(result.checks.map((c) => c.name)).toEqual(expect.arrayContaining(scenario.requiredChecks));
          if (scenario.sellsOut) expect(result.rows).toBe(result.stock);
        },
        expected.timeoutMs,
      );
    }
  });
}
