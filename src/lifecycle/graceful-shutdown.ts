import { INestApplication, Logger } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';
import { HealthService } from '../health/health.service';
import { requestAdmissionOf } from './request-admission';

const logger = new Logger('GracefulShutdown');

/** How often a draining process closes the connections that went idle since the last look. */
const IDLE_CLOSE_INTERVAL_MS = 100;

/**
 * SIGTERM/SIGINT: connections parked by MAX_REQUESTS_IN_FLIGHT are read (and answered), health
 * turns 503 "draining" for SHUTDOWN_GRACE_MS so load balancers stop
 * routing here, then app.close() stops accepting, lets in-flight requests answer, waits for the
 * claim batchers to go idle, releases locks and closes the pools. Exit 0 after a clean drain,
 * 1 when it fails or outlasts SHUTDOWN_TIMEOUT_MS (a stuck drain must not keep a pod forever).
 */
export function installGracefulShutdown(app: INestApplication, config: AppConfig): void {
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.log(`${signal}: draining (grace ${config.SHUTDOWN_GRACE_MS} ms, bound ${config.SHUTDOWN_TIMEOUT_MS} ms)`);
    app.get(HealthService).startDraining();
    const server = app.getHttpServer() as Server;
    // Connections parked for room are read now, while the grace period lets them be answered.
    requestAdmissionOf(server)?.openAll();
    // Every answer from now on closes its connection (Connection: close): a kept-alive client
    // reconnects, and the load balancer sends it elsewhere.
    server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
      response.shouldKeepAlive = false;
    });
    // A request read before the signal may be answered after the close began, keep-alive: Node
    // closes idle connections once, at the close, so that one would hold the drain until its
    // keep-alive timeout (73 s). It is closed as soon as it is idle.
    setInterval(() => server.closeIdleConnections(), IDLE_CLOSE_INTERVAL_MS).unref();
    setTimeout(() => {
      logger.error(`drain did not finish within ${config.SHUTDOWN_TIMEOUT_MS} ms; exiting anyway`);
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_GRACE_MS))
      .then(() => app.close())
      .then(
        () => {
          logger.log('drained; exiting');
          process.exit(0);
        },
        (error: Error) => {
          logger.error(`shutdown failed: ${error.message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
