import { loadConfig } from '../src/config/config.loader';
import { createDataSource } from '../src/database/data-source';
import { OutboxRepository } from '../src/events/outbox.repository';

/**
 * `npm run events:dead-letters`: lists the outbox events the broker refused on every try
 * (the events_outbox_dead_letters gauge counts them). With `--replay` it puts them all back in
 * line, or only the event ids named after it; a running relay publishes them within a poll.
 * Fix the cause first (the queue that refuses, its policy), or they come back dead.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dataSource = createDataSource(loadConfig());
  await dataSource.initialize();
  try {
    const outbox = new OutboxRepository(dataSource);
    if (args[0] === '--replay') {
      const ids = args.slice(1);
      const replayed = await outbox.replay(ids.length > 0 ? ids : null);
      process.stdout.write(`${replayed} dead letter(s) put back in line\n`);
      return;
    }
    if (args.length > 0) throw new Error('usage: events:dead-letters [--replay [event_id ...]]');
    const rows = await outbox.deadLetters(1000);
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    process.stderr.write(`${rows.length} dead letter(s)${rows.length === 1000 ? ' (the first 1000)' : ''}\n`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`events:dead-letters: ${error.message}\n`);
  process.exit(1);
});
