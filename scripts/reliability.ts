import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { projectRoot } from '../src/config/config.loader';
import { ScenarioResult } from '../harness/fault-sale';
import { EVENT_FAULT_SCENARIOS, FAULT_SCENARIOS } from '../test/faults/fault-scenario-list';

/**
 * `npm run reliability`: runs every fault scenario once (the lists in
 * test/faults/fault-scenario-list.ts, which test/fault-scenarios*.e2e-spec.ts assert, the event
 * relay's included) and writes the measured table into documentation/results/reliability.md
 * between markers.
 */
const BEGIN = '<!-- reliability-table:begin -->';
const END = '<!-- reliability-table:end -->';
const ERROR_CODES = ['SOLD_OUT', 'ALREADY_CLAIMED', 'LOCK_UNAVAILABLE', 'LOCK_BUSY', 'DATABASE_UNAVAILABLE', 'NO_ANSWER'];

function table(results: ScenarioResult[]): string {
  const head = ['#', 'scenario', 'setup', 'users / stock', 'claims sent', '200', ...ERROR_CODES, 'other', 'rows', 'oversell', 'checks'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of results) {
    const other = Object.entries(r.answers)
      .filter(([code]) => code !== 'GRANTED' && !ERROR_CODES.includes(code))
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    const passed = r.checks.filter((c) => c.passed).length;
    lines.push(
      `| ${[
        r.id,
        r.title,
        r.setup,
        `${r.users} / ${r.stock}`,
        r.claimsSent,
        r.granted,
        ...ERROR_CODES.map((code) => r.answers[code] ?? 0),
        other || '-',
        r.rows,
        r.oversell,
        passed === r.checks.length ? `${passed}/${r.checks.length} pass` : `**${r.checks.length - passed} FAILED**`,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function details(results: ScenarioResult[]): string {
  return results
    .map((r) =>
      [
        `**${r.id}. ${r.title}** (${(r.durationMs / 1000).toFixed(0)} s with start-up and teardown)`,
        ...r.notes.map((n) => `- ${n}`),
        ...r.checks.map((c) => `- ${c.passed ? 'pass' : 'FAIL'}: ${c.name} (${c.detail})`),
      ].join('\n'),
    )
    .join('\n\n');
}

async function main(): Promise<void> {
  const results: ScenarioResult[] = [];
  for (const scenario of [...FAULT_SCENARIOS, ...EVENT_FAULT_SCENARIOS]) {
    process.stdout.write(`${scenario.id}. ${scenario.title}... `);
    const result = await scenario.run();
    results.push(result);
    const failed = result.checks.filter((c) => !c.passed);
    process.stdout.write(failed.length === 0 ? 'ok\n' : `FAILED: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}\n`);
  }
  const section = [
    BEGIN,
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores with \`npm run reliability\`.`,
    'Every answer a client got is counted, the 503s it retried included; "claims sent" counts requests (retries included).',
    '',
    table(results),
    '',
    details(results),
    END,
  ].join('\n');
  const path = join(projectRoot(), 'documentation', 'results', 'reliability.md');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    text = `# Reliability\n\n${BEGIN}\n${END}\n`;
  }
  if (!text.includes(BEGIN)) text += `\n${BEGIN}\n${END}\n`;
  writeFileSync(path, text.slice(0, text.indexOf(BEGIN)) + section + text.slice(text.indexOf(END) + END.length));
  process.stdout.write(`wrote ${path}\n`);
  if (results.some((r) => r.checks.some((c) => !c.passed))) process.exitCode = 1;
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
