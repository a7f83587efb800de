# jitpool itself as a container (used by examples/docker-compose.yaml). Build from the
# repository root:  docker build -f examples/jitpool.Dockerfile -t jitpool .
FROM node:24-bookworm-slim
WORKDIR /opt/jitpool
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
# The state directory (SQLite) lives on a volume; see the compose file.
VOLUME /var/lib/jitpool
ENTRYPOINT ["node", "bin/jitpool.js"]
CMD ["up", "-c", "/etc/jitpool/jitpool.yaml"]
