import { ChannelModel, ConfirmChannel, connect } from 'amqplib';
import { EVENT_TYPES, OutboxRow, eventBody } from './event-types';
import { LeaseOutcome } from './outbox.repository';

/** The longest the AMQP handshake may take (a broker behind a partition accepts TCP and says nothing). */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * One connection and one confirm channel to RabbitMQ, for one relay. Connecting declares the
 * durable topic exchange (again after every reconnect: an exchange deleted under a running
 * service comes back). A link that fails (closed by the broker or the network, or confirms
 * that do not come in time) is dropped whole and a new one made: amqplib does not recover a
 * connection on its own, and a relay with no link leases nothing.
 */
export class BrokerLink {
  private constructor(
    private readonly model: ChannelModel,
    private readonly channel: ConfirmChannel,
    private readonly exchange: string,
    private broken: Error | null = null,
  ) {
    const fail = (reason: string) => (error?: Error) => {
      this.broken ??= error ?? new Error(reason);
    };
    model.on('error', fail('connection error'));
    model.on('close', fail('connection closed'));
    channel.on('error', fail('channel error'));
    channel.on('close', fail('channel closed'));
  }

  static async open(url: string, exchange: string): Promise<BrokerLink> {
    const model = await connect(url, { timeout: CONNECT_TIMEOUT_MS, clientProperties: { connection_name: 'flash-sale-coupons relay' } });
    try {
      const channel = await model.createConfirmChannel();
      await channel.assertExchange(exchange, 'topic', { durable: true });
      return new BrokerLink(model, channel, exchange);
    } catch (error) {
      BrokerLink.destroy(model);
      throw error;
    }
  }

  /** Why the link is unusable, or null while it works. */
  get failure(): Error | null {
    return this.broken;
  }

  /**
   * Publishes the rows in order (persistent, message_id = event id) and waits up to
   * `timeoutMs` for the broker's confirms. Acked rows are sent; nacked rows are refused. Rows
   * whose fate the link's failure or the timeout left unknown are in neither list (they stay in
   * the outbox and go out again: a duplicate, never a loss), and the link is then broken.
   */
  async publish(rows: OutboxRow[], timeoutMs: number): Promise<LeaseOutcome> {
    const outcome: LeaseOutcome = { sent: [], refused: [] };
    const confirms: Promise<void>[] = [];
    // One deadline for the whole lease (writes and confirms): the lease's transaction is ended
    // by PostgreSQL past it (idle_in_transaction_session_timeout), which frees its coupons.
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(0, deadline - performance.now());
    for (const row of rows) {
      if (this.broken) break;
      if (!EVENT_TYPES.includes(row.event_type)) throw new Error(`outbox row ${row.id} has an unknown type ${row.event_type}`);
      const content = Buffer.from(JSON.stringify(eventBody(row)));
      let written = true;
      confirms.push(
        new Promise<void>((resolve) => {
          written = this.channel.publish(
            this.exchange,
            row.event_type,
            content,
            { persistent: true, messageId: row.event_id, contentType: 'application/json', type: row.event_type },
            (error) => {
              // A close fails every unconfirmed publish too: only a nack on a live link is a refusal.
              if (!error) outcome.sent.push(row.id);
              else if (!this.broken) outcome.refused.push({ id: row.id, error: String((error as Error).message) });
              resolve();
            },
          );
        }),
      );
      if (!written && !(await this.drained(left()))) {
        // A broker under flow control: give the lease up rather than outlive it.
        this.broken ??= new Error(`write buffer not drained within ${timeoutMs} ms`);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left())));
    const result = await Promise.race([Promise.all(confirms), timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') this.broken ??= new Error(`no confirm within ${timeoutMs} ms`);
    // Confirms that come in later change nothing: the caller settles this copy.
    return { sent: [...outcome.sent], refused: this.broken ? [] : [...outcome.refused] };
  }

  /** Until the channel's write buffer drains or it closes (true), or `timeoutMs` passes (false). */
  private drained(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (drained: boolean) => {
        clearTimeout(timer);
        this.channel.off('drain', onDrain);
        this.channel.off('close', onDrain);
        resolve(drained);
      };
      const onDrain = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.channel.on('drain', onDrain);
      this.channel.on('close', onDrain);
    });
  }

  /** Closes politely when the link works; otherwise drops the socket (a close over a partition would wait for an answer that never comes). */
  async close(): Promise<void> {
    if (this.broken) {
      BrokerLink.destroy(this.model);
      return;
    }
    this.broken = new Error('closed');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.model.close().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
    BrokerLink.destroy(this.model);
  }

  private static destroy(model: ChannelModel): void {
    model.removeAllListeners('error');
    model.on('error', () => undefined);
    (model.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }
}
