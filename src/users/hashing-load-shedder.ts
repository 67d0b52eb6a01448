import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { sendError } from '../common/domain-error.filter';
import { requestLogFields } from '../logging/request-logging';
import { PasswordHasher, authBusy } from './password-hasher';

/** The routes that hash a password, as Fastify knows them (global prefix included). */
export const HASHING_ROUTES = new Set(['/api/users/login', '/api/users/register']);

/**
 * While every hashing slot is taken, logins and registrations are refused (503 AUTH_BUSY)
 * as they arrive, before their body is parsed or Nest's guard, pipe and filter run: a flood
 * refused through the full path cost more CPU per refusal than a sold-out claim, so shedding
 * had to be the cheapest answer the service gives. It only refuses, and only what
 * PasswordHasher would refuse anyway; a request that gets past it is still bounded there.
 * Such answers are logged at info (one line per request is already a flood of its own): the
 * hasher warns once per interval with the count.
 */
@Injectable()
export class HashingLoadShedder implements OnModuleInit {
  private readonly logger = new Logger(HashingLoadShedder.name);
  /** Requests refused here (tests use it to see that the hook, not only the hasher, refuses). */
  answered = 0;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly hasher: PasswordHasher,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      if (!this.hasher.busy || request.method !== 'POST' || !HASHING_ROUTES.has(request.routeOptions.url ?? '')) {
        done();
        return;
      }
      this.answered++;
      requestLogFields(request).shed = true;
      this.hasher.countRefusal();
      sendError(reply, authBusy(), this.logger);
    });
  }
}
