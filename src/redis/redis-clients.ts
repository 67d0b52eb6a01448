import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { redisUrls } from '../config/config.loader';

/**
 * One client per independent Redis node. Commands fail fast instead of queueing while a
 * node is down (enableOfflineQueue: false) or hanging when it is stopped (commandTimeout),
 * so a dead node costs a claim one vote, not a stuck request.
 */
export function createRedisClients(config: AppConfig): Redis[] {
  return redisUrls(config).map((url) => {
    const client = new Redis(url, {
      enableOfflineQueue: false,
      commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: config.REDIS_COMMAND_TIMEOUT_MS * 2,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      lazyConnect: false,
      // A node cut off without a reset leaves the socket open; probes close it in the end, so
      // the lock counts the node as down instead of waiting on it for every vote.
      keepAlive: config.TCP_KEEPALIVE_MS,
    });
    // Connection errors surface as failed votes; the event itself must not crash the process.
    client.on('error', () => undefined);
    return client;
  });
}

export const REDIS_CLIENTS = Symbol('REDIS_CLIENTS');

/** Nodes that must agree for a Redlock decision: a strict majority of them. */
export const quorumOf = (nodes: number): number => Math.floor(nodes / 2) + 1;
