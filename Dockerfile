# syntax=docker/dockerfile:1
# One image for every process of the system; the compose service picks the command:
#   node apps/launcher/dist/main.js (the API + WORKERS workers, the default) | node apps/api/dist/main.js
#   | node apps/worker/dist/main.js | node apps/gateway-sim/dist/main.js
# Stages: base (node + pinned pnpm) → deps (registry download, cached on the lockfile alone)
#         → build (offline install, tsc, then dev dependencies dropped) → runtime (non-root).
# Built and run on 2026-11-28 with local stand-ins for the base images (docs/deployment.md).

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS base
# must equal package.json "packageManager" (corepack refuses another pnpm than the one named there)
RUN npm i -g -E pnpm@12.4.2
WORKDIR /src

FROM base AS deps
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
# every package of the lockfile into pnpm's store: this layer changes only with the lockfile
RUN pnpm fetch

FROM deps AS build
COPY . .
RUN pnpm install --frozen-lockfile --offline
RUN pnpm turbo run build --filter=@sup/launcher... --filter=@sup/api... --filter=@sup/worker... --filter=@sup/gateway-sim... \
 && test -f apps/launcher/dist/main.js && test -f apps/api/dist/main.js && test -f apps/worker/dist/main.js && test -f apps/gateway-sim/dist/main.js
# a production-only node_modules (no typescript, jest, turbo, …): reinstalled from the store from
# scratch, since `install --prod` over a full tree unlinks dev packages but leaves them on disk
RUN find . -name node_modules -type d -prune -exec rm -rf {} + \
 && CI=true pnpm install --frozen-lockfile --offline --prod

FROM ${NODE_IMAGE} AS runtime
# curl: health checks and the runbook's `docker exec sofiia-supervisor curl -sf http://router:8000/healthz`
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# pnpm's node_modules are relative symlinks (workspace packages → packages/*), kept as they are
COPY --from=build --chown=node:node /src/package.json /src/pnpm-workspace.yaml ./
COPY --from=build --chown=node:node /src/node_modules ./node_modules
COPY --from=build --chown=node:node /src/packages ./packages
COPY --from=build --chown=node:node /src/apps ./apps
COPY --from=build --chown=node:node /src/config ./config
# the image's own user (uid 1000), never root
USER node
EXPOSE 8084 8000 9464
CMD ["node", "apps/launcher/dist/main.js"]
