import { keyRowsTable, keyTargets, measureKeyRows } from './idempotency-rows';

/** `npm run bench:keys`: only the Idempotency-Key rows of `npm run bench`, printed as a table (or `--json`). */
async function main(): Promise<void> {
  const result = await measureKeyRows((line) => process.stderr.write(`bench: ${line}\n`));
  const targets = keyTargets(result);
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ ...result, targets }, null, 2) + '\n');
  else
    process.stdout.write(
      `${keyRowsTable(result)}\n\n${targets.map((t) => `- ${t.passed ? 'PASS' : 'FAIL'} ${t.name}: ${t.detail}`).join('\n')}\n`,
    );
  process.exit(targets.every((t) => t.passed) ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).stack}\n`);
  process.exit(2);
});
