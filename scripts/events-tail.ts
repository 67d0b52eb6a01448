import { connect } from 'amqplib';
import { loadConfig } from '../src/config/config.loader';

/**
 * `npm run events:tail`: prints the events of a running deployment, one JSON line each, as they
 * reach the exchange (EVENTS_URL, EVENTS_EXCHANGE of the local configuration or the
 * environment). It reads through its own exclusive queue bound with `#`, which the broker
 * deletes when the tail stops: it takes nothing from other consumers. Ctrl-C ends it.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  if (config.EVENTS_URL === '') throw new Error('EVENTS_URL is empty: this deployment publishes no events');
  const connection = await connect(config.EVENTS_URL);
  const channel = await connection.createChannel();
  await channel.assertExchange(config.EVENTS_EXCHANGE, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, config.EVENTS_EXCHANGE, process.argv[2] ?? '#');
  process.stderr.write(`tailing ${config.EVENTS_EXCHANGE} (${process.argv[2] ?? '#'}); Ctrl-C to stop\n`);
  await channel.consume(
    queue,
    (message) => {
      if (message) process.stdout.write(`${message.content.toString()}\n`);
    },
    { noAck: true },
  );
  let stopping = false;
  const stop = () => {
    stopping = true;
    void connection.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // The broker went away (not our Ctrl-C): say so in the exit code.
  connection.on('close', () => stopping || process.exit(1));
}

main().catch((error: Error) => {
  process.stderr.write(`events:tail: ${error.message}\n`);
  process.exit(1);
});
