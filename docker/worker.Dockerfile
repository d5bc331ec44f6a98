# drover-worker with the example processors. Build from the repository root:
#   docker build -f docker/worker.Dockerfile -t drover-worker .
# For your own processors, build FROM this image, COPY your compiled module
# and set DROVER_PROCESSORS to it.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN npm install -g pnpm@10
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY test/package.json ./test/package.json
RUN pnpm install --frozen-lockfile
RUN pnpm exec tsc -b packages/worker packages/cli
RUN pnpm --filter @drover/worker deploy --prod --legacy /out \
 && mkdir -p /out/examples \
 && cp packages/cli/dist/examples/processors.js /out/examples/processors.js

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /out ./
ENV NODE_ENV=production \
    DROVER_PROCESSORS=/app/examples/processors.js
USER node
# SIGTERM drains: running tasks finish and report, held tasks and runs go back.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.js"]
