# Shared by scripts/dev.sh and scripts/test.sh. Source it; it defines helpers and changes nothing.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
AZURITE_PREFIX="$LOCAL/azurite"

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required (see README: prerequisites)" >&2; exit 1; }; }

# Installs the pinned Azurite (tools/azurite/package.json) into .local/azurite once.
install_azurite() {
  if [ ! -f "$AZURITE_PREFIX/node_modules/azurite/dist/src/azurite.js" ]; then
    echo "==> installing Azurite into .local/azurite (npm)"
    mkdir -p "$AZURITE_PREFIX"
    cp "$ROOT/tools/azurite/package.json" "$AZURITE_PREFIX/package.json"
    npm install --prefix "$AZURITE_PREFIX" --no-audit --no-fund --loglevel error >/dev/null
  fi
}

# A random URL-safe secret (no external tools beyond coreutils).
random_secret() { head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 40; }

# Waits until "$1" answers any HTTP status on GET (curl-free: bash /dev/tcp), up to $2 seconds.
wait_for_port() {
  local port=$1 seconds=${2:-60}
  for _ in $(seq $((seconds * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
