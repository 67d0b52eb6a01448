import type { SaleShape } from '../harness/sale-report';

/** Command-line options of `npm run stress`. */
export interface StressOptions extends SaleShape {
  urls: string[] | null;
  durationSeconds: number;
  json: boolean;
  /** Where to write the self-contained HTML page of charts, or null for none. */
  reportPath: string | null;
  adminUser: string;
  adminPassword: string | null;
  databaseUrl: string | null;
  couponName: string | null;
  retries: number;
  retryDelayMs: number;
  /** An Idempotency-Key on every claim, its retries with the same key (off with --no-keys). */
  idempotencyKeys: boolean;
  requestTimeoutMs: number;
  /** Check the sale's events at the broker (--check-events): where to read them. */
  events: { url: string; exchange: string; withinSeconds: number } | null;
  /** Extra environment for the self-started service (bench uses it to set CLAIM_BATCH_SIZE). */
  serviceEnv: Record<string, string>;
  help: boolean;
}

export const HELP = `npm run stress -- [options]

Runs a flash sale against the service and checks that it held: nothing oversold, nobody
twice, every 200 committed. With no --url it starts the built service itself on a
throwaway database and Redis key prefix, and stops it afterwards. Exits 0 only if every
check passed; otherwise non-zero, naming the failed checks.

  --url URL[,URL...]     target running instances (round-robin) instead of starting one
  --admin-user NAME      admin account for --url (default: $STRESS_ADMIN_USER or "admin")
  --admin-password PW    its password (default: $STRESS_ADMIN_PASSWORD)
  --database-url URL     the deployment's PostgreSQL: enables fast user seeding and the
                         database checks in --url mode (default: $STRESS_DATABASE_URL)
  --users N              distinct users racing (default 10000)
  --stock N              units for sale in total (default 1000), split evenly over the coupons
  --coupons N            coupons sold at once (default 1); every check runs per coupon
  --claims-per-user K    distinct coupons each user claims at once (default 1; at most --coupons)
  --concurrency N        requests in flight at once (default 256)
  --double-dip K         one user fires K concurrent claims (default 20; 0 = off)
  --duration S           cap on the claim phase in seconds (default 120)
  --retries N            retries of a retryable 503 (LOCK_BUSY...) per claim (default 5)
  --retry-delay MS       wait before such a retry (default 100; at least Retry-After with keys)
  --no-keys              send claims without an Idempotency-Key (by default every claim has one,
                         and 503s, 409 IDEMPOTENCY_KEY_IN_USE and lost answers are retried with it)
  --timeout MS           a request unanswered for this long counts as a hang (default 30000)
  --coupon NAME          coupon name (default STRESS_<seed>_<time>)
  --seed N               seed of the claim order shuffle (default 1)
  --check-events         also check the events at the broker: one claim.granted per claim
                         row, unique ids, message_id = id (a queue of its own bound with #).
                         Self-started: the service relays to --events-url on a new exchange
  --events-url URL       the broker (default: $STRESS_EVENTS_URL or the local RabbitMQ,
                         amqp://guest:guest@127.0.0.1:5672)
  --events-exchange NAME with --url: the deployment's EVENTS_EXCHANGE (default coupon-events)
  --events-within S      how long the events may take to arrive after the sale (default 60)
  --json                 print the machine-readable report on stdout (progress on stderr)
  --report PATH.html     also write the report as one self-contained HTML page of charts
                         (claims/s by outcome, stock left, latency; no network needed)
  --help                 this text
`;

function positiveInt(name: string, value: string | undefined, min = 1): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < min) {
    throw new Error(`${name} needs a whole number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): StressOptions {
  const options: StressOptions = {
    urls: null,
    users: 10_000,
    stock: 1_000,
    coupons: 1,
    claimsPerUser: 1,
    concurrency: 256,
    doubleDip: 20,
    durationSeconds: 120,
    json: false,
    reportPath: null,
    seed: 1,
    adminUser: env.STRESS_ADMIN_USER ?? 'admin',
    adminPassword: env.STRESS_ADMIN_PASSWORD ?? null,
    databaseUrl: env.STRESS_DATABASE_URL ?? null,
    couponName: null,
    retries: 5,
    retryDelayMs: 100,
    idempotencyKeys: true,
    requestTimeoutMs: 30_000,
    serviceEnv: {},
    events: null,
    help: false,
  };
  let checkEvents = false;
  let eventsUrl = env.STRESS_EVENTS_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  let eventsExchange = 'coupon-events';
  let eventsWithin = 60;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--url':
        options.urls = value()
          .split(',')
          .map((u) => u.trim().replace(/\/+$/, ''))
          .filter(Boolean);
        break;
      case '--admin-user':
        options.adminUser = value();
        break;
      case '--admin-password':
        options.adminPassword = value();
        break;
      case '--database-url':
        options.databaseUrl = value();
        break;
      case '--users':
        options.users = positiveInt('--users', value());
        break;
      case '--stock':
        options.stock = positiveInt('--stock', value());
        break;
      case '--coupons':
        options.coupons = positiveInt('--coupons', value());
        break;
      case '--claims-per-user':
        options.claimsPerUser = positiveInt('--claims-per-user', value());
        break;
      case '--concurrency':
        options.concurrency = positiveInt('--concurrency', value());
        break;
      case '--double-dip':
        options.doubleDip = positiveInt('--double-dip', value(), 0);
        break;
      case '--duration':
        options.durationSeconds = positiveInt('--duration', value());
        break;
      case '--retries':
        options.retries = positiveInt('--retries', value(), 0);
        break;
      case '--retry-delay':
        options.retryDelayMs = positiveInt('--retry-delay', value(), 0);
        break;
      case '--timeout':
        options.requestTimeoutMs = positiveInt('--timeout', value());
        break;
      case '--coupon':
        options.couponName = value();
        break;
      case '--seed':
        options.seed = positiveInt('--seed', value(), 0);
        break;
      case '--service-env': {
        const [key, ...rest] = value().split('=');
        options.serviceEnv[key] = rest.join('=');
        break;
      }
      case '--check-events':
        checkEvents = true;
        break;
      case '--events-url':
        eventsUrl = value();
        break;
      case '--events-exchange':
        eventsExchange = value();
        break;
      case '--events-within':
        eventsWithin = positiveInt('--events-within', value());
        break;
      case '--json':
        options.json = true;
        break;
      case '--no-keys':
        options.idempotencyKeys = false;
        break;
      case '--report': {
        const path = value();
        if (!path || path.startsWith('--')) throw new Error('--report needs a file path, e.g. --report stress.html');
        options.reportPath = path;
        break;
      }
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  if (options.couponName !== null && !/^[A-Za-z0-9_-]{1,64}$/.test(options.couponName)) {
    throw new Error('--coupon must be 1-64 characters of [A-Za-z0-9_-]');
  }
  if (options.stock < options.coupons)
    throw new Error(`--stock (${options.stock}) must be at least --coupons (${options.coupons}): every coupon needs a unit`);
  if (options.claimsPerUser > options.coupons)
    throw new Error('--claims-per-user must not exceed --coupons (a user claims distinct coupons)');
  if (checkEvents) {
    if (!/^amqps?:\/\/\S+$/.test(eventsUrl)) throw new Error('--events-url must be an amqp:// or amqps:// URL');
    options.events = { url: eventsUrl, exchange: eventsExchange, withinSeconds: eventsWithin };
  }
  if (options.urls && !options.adminPassword) {
    throw new Error('--url needs the admin password (--admin-password or STRESS_ADMIN_PASSWORD)');
  }
  return options;
}
