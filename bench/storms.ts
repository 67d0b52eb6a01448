import { STORM_ROWS, measureStormRows } from './storm-rows';

/**
 * `npm run bench:storms`: the sale-start rows alone, each printed as a table with its targets.
 * BENCH_STORM_ROWS picks some (comma-separated: storm, wrk, floods, memory, sweep; all when
 * unset). Exits 1 when a target fails.
 */
async function main(): Promise<void> {
  const rows = new Set((process.env.BENCH_STORM_ROWS ?? STORM_ROWS.join(',')).split(',').map((row) => row.trim()));
  const { markdown, targets } = await measureStormRows((line) => process.stderr.write(`bench: ${line}\n`), rows);
  process.stdout.write(`${markdown}\n`);
  process.exit(targets.every((t) => t.passed) ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).stack}\n`);
  process.exit(2);
});
