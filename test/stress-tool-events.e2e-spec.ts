import { spawn } from 'node:child_process';
import { join } from 'node:path';

const CLI = join(__dirname, '..', 'dist', 'stress-test', 'cli.js');

function stress(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const eventChecksOf = (stdout: string) =>
  (JSON.parse(stdout).checks as { name: string; passed: boolean; detail: string }[]).filter((c) => c.name.startsWith('events'));

describe('npm run stress --check-events', () => {
  it('checks the events at the local RabbitMQ against the database, and they hold', async () => {
    const result = await stress([
      '--users',
      '300',
      '--stock',
      '80',
      '--concurrency',
      '64',
      '--double-dip',
      '5',
      '--check-events',
      '--json',
    ]);
    expect(result.stderr).toContain('checking the events at the broker');
    const checks = eventChecksOf(result.stdout);
    expect(checks.filter((c) => !c.passed)).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'events: every claim in the database has its claim.granted event, and no other user does',
        'events: message_id = body id, application/json, persistent, routing key = type',
      ]),
    );
    expect(result.code).toBe(0);
  });

  it('fails the run when the service publishes no events (the checks can fail)', async () => {
    const result = await stress([
      '--users',
      '100',
      '--stock',
      '20',
      '--concurrency',
      '32',
      '--double-dip',
      '0',
      '--check-events',
      '--events-within',
      '3',
      '--service-env',
      'EVENTS_URL=',
      '--json',
    ]);
    const failed = eventChecksOf(result.stdout)
      .filter((c) => !c.passed)
      .map((c) => c.name);
    expect(failed).toEqual(expect.arrayContaining(['events: every claim.granted arrived within 3 s of the sale']));
    expect(result.code).not.toBe(0);
  });
});
