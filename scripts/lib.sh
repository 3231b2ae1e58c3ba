# Shared helpers for the scripts in this folder. Sourced, not executed.
# shellcheck shell=bash

# Run from the repository root whatever the caller's working directory is.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT" || exit 1

# shellcheck disable=SC2034  # used by the scripts that source this file
VENV="$REPO_ROOT/.venv"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Directory holding the PostgreSQL server binaries (initdb, pg_ctl, postgres, ...).
# Debian keeps them out of PATH in /usr/lib/postgresql/<version>/bin; prefer the newest
# one there, else follow an initdb found on PATH (which may be a symlink into it).
pg_bindir() {
    local dir initdb
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        printf '%s\n' "$dir"
        return 0
    fi
    initdb="$(command -v initdb 2>/dev/null)" || return 1
    dirname "$(readlink -f "$initdb")"
}

# Split a redis:// or rediss:// URL into REDIS_HOST, REDIS_PORT, REDIS_USER, REDIS_PASSWORD
# and REDIS_TLS. Python's parser copes with IPv6, percent-encoding and empty user names,
# which redis-cli -u does not.
parse_redis_url() {
    local out
    out="$(python3 - "$1" <<'PY'
import sys
from urllib.parse import unquote, urlsplit

url = urlsplit(sys.argv[1])
if url.scheme not in ("redis", "rediss"):
    sys.exit(f"error: unsupported Redis URL scheme {url.scheme!r} (use redis:// or rediss://)")
print(url.hostname or "127.0.0.1")
print(url.port or 6379)
print(unquote(url.username or ""))
print(unquote(url.password or ""))
print("1" if url.scheme == "rediss" else "")
print("end")  # $(...) drops trailing empty lines, which `read` would then miss
PY
    )" || return 1
    {
        IFS= read -r REDIS_HOST
        IFS= read -r REDIS_PORT
        IFS= read -r REDIS_USER
        IFS= read -r REDIS_PASSWORD
        IFS= read -r REDIS_TLS
    } <<<"$out"
}

# True when the Redis described by parse_redis_url answers PING.
redis_ping() {
    local args=(-h "$REDIS_HOST" -p "$REDIS_PORT")
    [[ -n "$REDIS_USER" ]] && args+=(--user "$REDIS_USER")
    [[ -n "$REDIS_TLS" ]] && args+=(--tls)
    if [[ -n "$REDIS_PASSWORD" ]]; then
        # Password through the environment: not visible in ps, no warning printed.
        [[ "$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli "${args[@]}" ping 2>/dev/null)" == PONG ]]
    else
        [[ "$(redis-cli "${args[@]}" ping 2>/dev/null)" == PONG ]]
    fi
}
