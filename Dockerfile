# syntax=docker/dockerfile:1
# Not built on the development machines (no Docker engine there): test/containers.e2e-spec.ts
# replays these steps in a temporary folder (test/support/dockerfile-replay.ts) and starts the
# runtime stage's CMD and HEALTHCHECK; an instruction the replay does not know fails that test.

# Build stage: every dependency, compile TypeScript, then drop the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# bcrypt ships prebuilt linux-x64/arm64 binaries for glibc, so no compiler is needed here.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json env.example.json ./
COPY src ./src
COPY migrations ./migrations
# --omit=optional too: @nestjs/swagger names typescript as an optional peer, which keeps the
# compiler (a devDependency) through a plain --omit=dev. The service has no optional package it
# needs (the only other one is pg-cloudflare, for Cloudflare Workers).
RUN npm run build && npm prune --omit=dev --omit=optional

# Runtime stage: production dependencies and compiled code only, as the unprivileged node user.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# env.example.json holds the documented defaults; the config loader finds it beside package.json.
COPY --chown=node:node package.json env.example.json ./
USER node
EXPOSE 3000
# Liveness, not readiness: an orchestrator restarts an unhealthy container, and restarting every
# API process during a database outage would only add a cold start to the outage.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/healthcheck/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node as PID 1 receives SIGTERM directly; the app drains in-flight claims before it exits.
CMD ["node", "dist/src/main.js"]
