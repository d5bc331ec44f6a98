# drover-server. Build from the repository root:
#   docker build -f docker/server.Dockerfile -t drover-server .
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN npm install -g pnpm@10
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY test/package.json ./test/package.json
RUN pnpm install --frozen-lockfile
RUN pnpm exec tsc -b packages/server
RUN pnpm --filter @drover/server deploy --prod --legacy /out

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /out ./
# One-shot helpers of compose.yaml (first NATS authorization, app creation).
COPY docker/nats-auth-init.mjs docker/init-app.mjs ./docker/
ENV NODE_ENV=production \
    DROVER_HTTP_HOST=0.0.0.0 \
    DROVER_HTTP_PORT=7700
EXPOSE 7700
USER node
HEALTHCHECK --interval=5s --timeout=3s --retries=12 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7700/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (scheduling stops, in-flight dispatches finish), then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.js"]
