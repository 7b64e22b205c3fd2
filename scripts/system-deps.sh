#!/usr/bin/env bash
# Install the system packages the test suite needs (Chromium, PostgreSQL, nginx, Redis, Java, npm) when they are missing.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v java >/dev/null || missing+=(default-jre-headless)  # the Nu HTML checker
command -v npm >/dev/null || missing+=(npm)                    # installs the checker
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "Please install these Debian packages, then run this again: ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..."
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
