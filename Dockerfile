# Regent with the pinned OPA it validates policies with.
FROM golang:1.26-bookworm AS opa
RUN CGO_ENABLED=0 GOBIN=/out go install github.com/open-policy-agent/opa@v1.22.2

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=opa /out/opa /usr/local/bin/opa
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY policies-repo ./policies-repo
ENV REGENT_HOST=0.0.0.0 REGENT_DATA_DIR=/data REGENT_OPA_PATH=/usr/local/bin/opa
USER node
VOLUME /data
EXPOSE 8080
# Outside --dev Regent refuses to start without its keys: mount them and set
# REGENT_SIGNING_KEY_FILE (bundle signing) and REGENT_AUTH_SECRET_FILE or REGENT_AUTH_PUBLIC_KEY_FILE
# (admin API tokens), files of mode 0600 owned by the node user, and agent credentials:
# REGENT_AGENT_TOKENS_FILE (or agents.jwt in a config file; agents.allowAnonymous to serve anyone).
CMD ["node", "dist/main.js"]
