import { measureWrkRatios, wrkTable, wrkTargets } from './wrk-ratios';

/** `npm run bench:wrk`: only the wrk ratio rows, printed as a table. */
async function main(): Promise<void> {
  const result = await measureWrkRatios((line) => process.stderr.write(`bench: ${line}\n`));
  const targets = wrkTargets(result);
  process.stdout.write(
    `${wrkTable(result)}\n\n${targets.map((t) => `- ${t.passed ? 'PASS' : 'FAIL'} ${t.name}: ${t.detail}`).join('\n')}\n`,
  );
  process.exit(targets.every((t) => t.passed) ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).stack}\n`);
  process.exit(2);
});
