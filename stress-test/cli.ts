import { writeFileSync } from 'node:fs';
import { renderStressReport } from '../harness/html-report';
import { HELP, parseOptions } from './options';
import { renderReport } from '../harness/sale-report';
import { runStress } from './stress';

/** `npm run stress`: exit 0 only if every check held; 1 if a check failed; 2 if the run could not happen. */
async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`stress: ${(error as Error).message}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const log = (line: string) => process.stderr.write(`stress: ${line}\n`);
  let report;
  try {
    report = await runStress(options, log);
  } catch (error) {
    process.stderr.write(`stress: the run could not complete: ${(error as Error).message}\n`);
    return 2;
  }
  process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : renderReport(report) + '\n');
  if (options.reportPath) {
    try {
      writeFileSync(options.reportPath, renderStressReport(report));
      log(`wrote the HTML report to ${options.reportPath}`);
    } catch (error) {
      process.stderr.write(`stress: could not write the HTML report: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const failed = report.checks.filter((c) => !c.passed);
  if (failed.length > 0) {
    process.stderr.write(`stress: FAILED checks: ${failed.map((c) => c.name).join('; ')}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`stress: ${(error as Error).stack}\n`);
    process.exit(2);
  },
);
