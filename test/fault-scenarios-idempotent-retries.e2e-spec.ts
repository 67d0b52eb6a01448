import { IDEMPOTENT_RETRY_SCENARIO } from '../harness/idempotent-retry-scenario';

/**
 * Fault scenario 14 (documentation/reliability.md), against the built service as separate
 * processes: clients with an Idempotency-Key retry through an API process killed mid-batch.
 */
describe('idempotent retries through a killed API process', () => {
  it(`${IDEMPOTENT_RETRY_SCENARIO.id}. ${IDEMPOTENT_RETRY_SCENARIO.title}`, async () => {
    const result = await IDEMPOTENT_RETRY_SCENARIO.run();
    expect(result.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`)).toEqual([]);
    expect(result.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['exactly one row per granted key', 'no grant unknown to its client', 'every request got an answer']),
    );
    expect(result.oversell).toBe(0);
    expect(result.rows).toBe(result.stock);
  }, 180_000);
});
