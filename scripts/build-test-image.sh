#!/usr/bin/env bash
# Builds the Docker image the tests, CI, the benchmarks and `jitpool demo --provider docker` run:
# the fake runner (src/sim/fake-runner.ts and its import closure) on the project's Node 24 binary
# with its shared libraries, as a root filesystem imported with `docker import` — nothing is
# pulled from a registry (there may be no internet). Runs as uid 1001 (non-root).
#
# Idempotent: the image carries a label with the hash of its inputs and is rebuilt only when they
# change. Usage: scripts/build-test-image.sh [tag]   (default tag: jitpool/fake-runner:test)
# Prints the tag on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${1:-${JITPOOL_TEST_IMAGE:-jitpool/fake-runner:test}}"
NODE_BIN="$(readlink -f node_modules/node/bin/node)"
ENTRY="src/sim/fake-runner.ts"
log() { echo "build-test-image: $*" >&2; }

[ -x "$NODE_BIN" ] || { log "no Node binary at node_modules/node/bin/node (run npm ci first)"; exit 1; }
command -v docker >/dev/null || { log "the docker CLI is not installed"; exit 1; }
docker info >/dev/null 2>&1 || { log "no Docker engine reachable (is dockerd running? DOCKER_HOST=${DOCKER_HOST:-unset})"; exit 1; }

# The entry's import closure: relative value imports followed recursively (`import type` is
# erased by type stripping and needs no file). A bare package import is an error: the image has
# no node_modules.
mapfile -t SOURCES < <("$NODE_BIN" --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { dirname, join, relative, resolve } from "node:path";
  const root = process.cwd(), seen = new Set(), todo = [resolve(process.argv[1])];
  while (todo.length) {
    const file = todo.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^\s*(import|export)\s+(?!type\s)([^;]*?\sfrom\s+)?["\x27]([^"\x27]+)["\x27]/gm)) {
      const spec = m[3];
      if (spec.startsWith("node:")) continue;
      if (!spec.startsWith(".")) { console.error(`${relative(root, file)} imports package ${spec}; the test image has no node_modules`); process.exit(1); }
      todo.push(join(dirname(file), spec));
    }
  }
  for (const file of [...seen].sort()) console.log(relative(root, file));
' "$ENTRY")
[ "${#SOURCES[@]}" -gt 0 ] || { log "could not compute the import closure of $ENTRY"; exit 1; }

mapfile -t LIBS < <(ldd "$NODE_BIN" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]*ld-linux/{print $1}' | sort -u)

HASH="$( { sha256sum "$NODE_BIN" "${LIBS[@]}" "${SOURCES[@]}" "$0" | awk '{print $1}'; } | sha256sum | cut -c1-32)"
if [ "$(docker image inspect --format '{{ index .Config.Labels "jitpool.test-image.hash" }}' "$TAG" 2>/dev/null || true)" = "$HASH" ]; then
  log "$TAG is up to date"
  echo "$TAG"
  exit 0
fi

ROOTFS="$(mktemp -d)"
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$ROOTFS"/{app,bin,etc,tmp,home/runner,usr/local/bin}
chmod 1777 "$ROOTFS/tmp"
cp "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
for lib in "${LIBS[@]}"; do
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
done
for source in "${SOURCES[@]}"; do
  mkdir -p "$ROOTFS/app/$(dirname "$source")"
  cp "$source" "$ROOTFS/app/$source"
done
echo '{ "type": "module", "private": true }' > "$ROOTFS/app/package.json"
printf 'root:x:0:0:root:/root:/sbin/nologin\nrunner:x:1001:1001:runner:/home/runner:/sbin/nologin\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\nrunner:x:1001:\n' > "$ROOTFS/etc/group"
chown -R 1001:1001 "$ROOTFS/home/runner"

log "importing $TAG (${#SOURCES[@]} source files, ${#LIBS[@]} libraries)"
tar -C "$ROOTFS" --numeric-owner -cf - . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV NODE_NO_WARNINGS=1' \
  --change 'USER 1001:1001' \
  --change 'WORKDIR /home/runner' \
  --change "LABEL jitpool.test-image.hash=$HASH" \
  --change 'CMD ["/usr/local/bin/node", "/app/src/sim/fake-runner.ts", "run"]' \
  - "$TAG" >/dev/null
log "built $TAG"
echo "$TAG"
