import cluster, { Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { Logger } from '@nestjs/common';
import { loadServingConfig, startupFailureMessage } from './config/config.loader';
import { maskConsoleOutput } from './logging/masked-console';

/**
 * `npm run start:cluster`: CLUSTER_WORKERS copies of main.ts sharing one port (the primary
 * hands out connections round-robin). Workers are stateless; PostgreSQL and the Redlock quorum
 * keep them correct together. A crashed worker is replaced; SIGTERM drains every worker.
 */
function runPrimary(): void {
  const logger = new Logger('ClusterPrimary');
  const config = loadServingConfig();
  const count = config.CLUSTER_WORKERS === 0 ? availableParallelism() : config.CLUSTER_WORKERS;
  let shuttingDown = false;
  let failedDrains = 0;
  // Counted here: cluster.workers may still list a worker inside its own 'exit' event.
  let running = 0;
  const fork = (): Worker => {
    const worker = cluster.fork();
    running++;
    logger.log(`worker ${worker.process.pid} started`);
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    running--;
    if (shuttingDown) {
      if (code !== 0) failedDrains++;
      if (running === 0) process.exit(failedDrains === 0 ? 0 : 1);
      return;
    }
    logger.warn(`worker ${worker.process.pid} exited (${signal ?? code}); starting a replacement`);
    fork();
  });
  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.log(`${signal}: draining ${running} workers`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    // Each worker bounds its own drain; this only guards against a worker that ignores SIGTERM.
    setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS + 5000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  for (let i = 0; i < count; i++) fork();
}

if (cluster.isPrimary) {
  maskConsoleOutput();
  try {
    runPrimary();
  } catch (error) {
    new Logger('ClusterPrimary').error(startupFailureMessage(error));
    process.exit(1);
  }
} else {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a worker loads the server here, synchronously, and only here
  require('./main');
}
