#!/usr/bin/env bash
# Install the Redis and PostgreSQL server binaries the test suite starts on its own, and the
# Chromium (with a font) that drives the browser app's tests.
#
# Idempotent: does nothing (and never calls apt) when all are already present.
# Without root or apt-get it only reports what is missing and exits 0; the tests
# then decide whether a missing service is fatal (it is when CI=true).
set -euo pipefail

missing=()

if ! command -v redis-server >/dev/null 2>&1; then
    missing+=(redis-server)
fi

# The tests look for the server binary itself, not for a running cluster.
shopt -s nullglob
pg_servers=(/usr/lib/postgresql/*/bin/postgres)
shopt -u nullglob
if [ "${#pg_servers[@]}" -eq 0 ]; then
    missing+=(postgresql)
fi

# Debian's own build: Playwright drives it through `executable_path` (its own browser
# download is not needed), and a font so that pages render text in screenshots.
if ! command -v chromium >/dev/null 2>&1; then
    missing+=(chromium)
fi
if [ ! -d /usr/share/fonts/truetype/dejavu ]; then
    missing+=(fonts-dejavu-core)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    echo "test services: redis-server, postgres and chromium are already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test services: missing ${missing[*]}; install them manually" \
        "(need root and apt-get to install automatically)" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive

# The tests run their own throwaway servers, so the packages must not leave
# system services running. A policy-rc.d that answers 101 makes invoke-rc.d skip
# every start during the install; only add one if the machine has none.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=1
fi
cleanup() {
    if [ "$added_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT

echo "test services: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Belt and braces for init systems that ignore policy-rc.d; only touch the
# services of packages installed just now.
for service_name in "${missing[@]}"; do
    if command -v service >/dev/null 2>&1 && [ -e "/etc/init.d/$service_name" ]; then
        service "$service_name" stop >/dev/null 2>&1 || true
    fi
done

echo "test services: installed ${missing[*]}"
