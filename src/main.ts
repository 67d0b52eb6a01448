// First: V8 flags must be set before the request path's code runs (lifecycle/v8-flags.ts).
import './lifecycle/v8-flags';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { loadServingConfig, startupFailureMessage } from './config/config.loader';
import { installGracefulShutdown } from './lifecycle/graceful-shutdown';
import { maskConsoleOutput } from './logging/masked-console';
import { startProcessTracing } from './tracing/tracing.module';

async function bootstrap(): Promise<void> {
  maskConsoleOutput();
  const config = loadServingConfig();
  startProcessTracing(config);
  const app = await createApp(config);
  installGracefulShutdown(app, config);
  await app.listen({ port: config.PORT, host: config.HOST, backlog: config.LISTEN_BACKLOG });
  new Logger('Bootstrap').log(`listening on ${await app.getUrl()}`);
}

bootstrap().catch((error: Error) => {
  // Config errors already name every bad key; anything else is a start-up failure.
  new Logger('Bootstrap').error(startupFailureMessage(error));
  process.exit(1);
});
