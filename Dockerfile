# Proof of Process service image. Build: docker build -t proof-of-process .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 POP_DATA_DIR=/var/lib/pop
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY schemas ./schemas
RUN mkdir -p /var/lib/pop && chown node:node /var/lib/pop
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A larger young generation: fewer scavenges, and request garbage no longer promoted into costly
# full collections (docs/performance.md, "What moved").
CMD ["node", "--max-semi-space-size=64", "bin/pop.js", "serve"]
