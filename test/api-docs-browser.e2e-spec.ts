import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { rmSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { createApp } from '../src/app.factory';
import { AppConfig } from '../src/config/app-config';
import { dropDatabase } from '../harness/database-checks';
import { deleteKeysWithPrefix } from '../harness/redis-node';
import { launchChromium } from './support/report-browser';
import { testConfig } from './support/test-app';

/**
 * The Swagger UI as someone on another host sees it: over plain HTTP at the machine's own
 * network address, not at 127.0.0.1 (browsers treat loopback as secure, which hid the fault:
 * an `upgrade-insecure-requests` policy sent every asset to https:// there was no TLS for).
 * One page load at that address, nothing more.
 */
function networkAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!address) throw new Error('this machine has no non-loopback IPv4 address to open the docs page at');
  return address.address;
}

/** Swagger UI draws the operations after fetching the document; give a busy machine time. */
const RENDER_TIMEOUT_MS = 30_000;

describe('the API docs page at a non-loopback address over plain HTTP', () => {
  let app: NestFastifyApplication;
  let config: AppConfig;
  let url: string;

  beforeAll(async () => {
    const host = networkAddress();
    config = testConfig({ HOST: host });
    app = await createApp(config);
    await app.listen(0, host);
    url = `http://${host}:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app?.close();
    if (config) {
      await dropDatabase(config.DATABASE_URL);
      await deleteKeysWithPrefix(config.REDIS_URLS.split(','), config.REDIS_KEY_PREFIX);
    }
  });

  it('renders every operation of the document, every asset loaded over http from the service itself', async () => {
    const documented = await fetch(`${url}/api/docs-json`).then((r) => r.json() as Promise<{ paths: Record<string, object> }>);
    const operations = Object.values(documented.paths).reduce(
      (n, item) => n + Object.keys(item).filter((k) => k !== 'parameters').length,
      0,
    );
    expect(operations).toBeGreaterThan(10);

    const { context, profile } = await launchChromium('docs-chromium-');
    const elsewhere: string[] = [];
    const failed: string[] = [];
    try {
      // Only the service itself may be asked; anything else is recorded and refused.
      await context.route('**/*', (route) => {
        const requested = route.request().url();
        if (requested.startsWith(`${url}/`)) return route.continue();
        elsewhere.push(requested);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      page.on('requestfailed', (request) => failed.push(request.url()));
      await page.goto(`${url}/api/docs`, { waitUntil: 'load' });
      const rendered = await page
        .waitForFunction(`document.querySelectorAll('.opblock').length >= ${operations}`, undefined, { timeout: RENDER_TIMEOUT_MS })
        .then(
          () => true,
          () => false,
        );
      const drawn = (await page.evaluate(`document.querySelectorAll('.opblock').length`)) as number;
      expect({ rendered, drawn, elsewhere, failed }).toEqual({ rendered: true, drawn: operations, elsewhere: [], failed: [] });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
