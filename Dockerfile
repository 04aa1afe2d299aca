# Regent with the pinned OPA it validates policies with.
#   docker build -t regent .
#   docker run -p 8080:8080 -v regent-data:/data regent node dist/main.js --dev     (try it)
# Outside --dev Regent refuses to start without its keys: mount them and set REGENT_SIGNING_KEY_FILE
# (bundle signing; `regent keygen` makes a pair) and REGENT_AUTH_SECRET_FILE or
# REGENT_AUTH_PUBLIC_KEY_FILE (admin API tokens), files of mode 0600 owned by the node user (uid 1000),
# and agent credentials: REGENT_AGENT_TOKENS_FILE (or agents.jwt in a config file; agents.allowAnonymous
# to serve every bundle to anyone).
FROM golang:1.26-bookworm AS opa
RUN CGO_ENABLED=0 GOBIN=/out go install github.com/open-policy-agent/opa@v1.22.2

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-ui.mjs scripts/make-cli-executable.mjs ./scripts/
COPY src ./src
COPY ui ./ui
# `npm run build`: the server and CLI (tsc), the web view (esbuild into dist/ui), the CLI's executable bit.
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# git: the store. util-linux: flock(1), which holds the data directory's lock (one Regent per data
# directory); it is Essential in Debian (in every image already) and named here because Regent needs it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=opa /out/opa /usr/local/bin/opa
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json regent.example.yaml ./
COPY policies-repo ./policies-repo
# The data directory belongs to the runtime user: created here, so a fresh named volume mounted on it
# starts owned by node (Docker copies the image directory's owner and mode into an empty volume).
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data \
 && ln -s /app/dist/cli/regent.js /usr/local/bin/regent
ENV REGENT_HOST=0.0.0.0 REGENT_DATA_DIR=/data REGENT_OPA_PATH=/usr/local/bin/opa NODE_ENV=production
USER node
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
