import { ConfigError, loadConfig } from '../config/config.loader';
import { eventsWritten } from './event-types';

describe('events configuration', () => {
  it('is off by default: no broker, no event written', () => {
    const config = loadConfig({}, {});
    expect(config.EVENTS_URL).toBe('');
    expect(config.EVENTS_EXCHANGE).toBe('coupon-events');
    expect(eventsWritten(config)).toBe(false);
  });

  it('an amqp:// or amqps:// URL turns events on', () => {
    expect(eventsWritten(loadConfig({}, { EVENTS_URL: 'amqp://u:p@mq:5672/%2f?heartbeat=10' }))).toBe(true);
    expect(eventsWritten(loadConfig({}, { EVENTS_URL: 'amqps://mq.example' }))).toBe(true);
  });

  it.each([
    ['EVENTS_URL', 'http://mq:5672'],
    ['EVENTS_URL', 'amqp://'],
    ['EVENTS_EXCHANGE', ''],
    ['EVENTS_EXCHANGE', 'has space'],
    ['EVENTS_RELAY_BATCH_SIZE', '0'],
    ['EVENTS_PUBLISH_MAX_ATTEMPTS', '0'],
    ['EVENTS_PUBLISH_TIMEOUT_MS', 'soon'],
  ])('refuses %s=%s, naming the key', (key, value) => {
    expect(() => loadConfig({}, { [key]: value })).toThrow(ConfigError);
    expect(() => loadConfig({}, { [key]: value })).toThrow(new RegExp(`${key}=`));
  });
});
