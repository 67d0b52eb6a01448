import type { FastifyInstance, RouteOptions, onRequestHookHandler, preHandlerHookHandler } from 'fastify';

/** The lifecycle phases a module may hook on some routes only. */
export interface RouteHookHandlers {
  onRequest: onRequestHookHandler;
  preHandler: preHandlerHookHandler;
}

const declaredRoutes = new WeakMap<FastifyInstance, RouteOptions[]>();

/**
 * Keeps the options of every route as it is declared, so that a module can later give a hook
 * to the routes it acts on only (addRouteHook). app.factory.ts calls it before Nest declares a
 * route. Fastify reads a route's own hooks from these options when the app gets ready, so a
 * hook added before `listen` (a module's onModuleInit) is one of the route's hooks.
 */
export function recordDeclaredRoutes(fastify: FastifyInstance): void {
  const routes: RouteOptions[] = [];
  declaredRoutes.set(fastify, routes);
  fastify.addHook('onRoute', (route) => void routes.push(route));
}

/**
 * Adds `hook` to the `phase` of every declared route `acts` picks (at least one, or it throws:
 * a hook that would never run is a bug). A hook that acts on a few routes, added to all,
 * runs on every request of every other route only to step aside, and a phase with no hook at
 * all is skipped by Fastify: the liveness probe and a sold-out answer pay for neither.
 */
export function addRouteHook<P extends keyof RouteHookHandlers>(
  fastify: FastifyInstance,
  acts: (route: RouteOptions) => boolean,
  phase: P,
  hook: (route: RouteOptions) => RouteHookHandlers[P],
): void {
  const routes = declaredRoutes.get(fastify);
  if (!routes) throw new Error('the routes were not recorded: build the app with createApp');
  const picked = routes.filter(acts);
  if (picked.length === 0) throw new Error(`no declared route for a ${phase} hook`);
  for (const route of picked) {
    const hooks = route as unknown as Record<string, unknown>;
    const own = hooks[phase];
    hooks[phase] = [...(own === undefined ? [] : Array.isArray(own) ? (own as unknown[]) : [own]), hook(route)];
  }
}
