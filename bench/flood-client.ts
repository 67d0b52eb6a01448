import { HttpPool } from '../harness/http-pool';

/**
 * One flooding client, run as its own process by bench/flood-rows.ts: `concurrency` requests
 * in flight, each sent again as soon as it is answered. `registration` registers new accounts;
 * `login` tries a wrong password for ever new usernames. With `honour-retry-after` a slot
 * waits the Retry-After of a 429/503 first, as a scripted client does (our own stress tool
 * does); with `ignore-retry-after` it never waits, a plain request flood. On SIGTERM it prints
 * its answer counts by status as one JSON line and exits.
 */
async function main(): Promise<void> {
  const [url, kind, concurrencyArg, retryArg] = process.argv.slice(2);
  const honourRetryAfter = retryArg !== 'ignore-retry-after';
  if (!url || (kind !== 'registration' && kind !== 'login')) throw new Error('usage: flood-client URL registration|login CONCURRENCY');
  const concurrency = Number(concurrencyArg ?? 64);
  const http = new HttpPool([url], concurrency, 30_000);
  const counts: Record<string, number> = {};
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let sent = 0;
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    process.stdout.write(JSON.stringify(counts) + '\n', () => process.exit(0));
  });
  const path = kind === 'registration' ? '/api/users/register' : '/api/users/login';
  const password = kind === 'registration' ? 'farmed-password-1' : 'wrong-password-1';
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stopping) {
        const username = `fl${run}_${sent++}`;
        const answer = await http.request('POST', path, { username, password });
        const key = answer.body?.code ? `${answer.status} ${answer.body.code}` : String(answer.status);
        counts[key] = (counts[key] ?? 0) + 1;
        const wait = Number(answer.retryAfter) * 1000;
        if (honourRetryAfter && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }),
  );
}

main().catch((error) => {
  process.stderr.write(`flood-client: ${(error as Error).stack}\n`);
  process.exit(2);
});
