#!/usr/bin/env bash
# Run by scripts/test-setup.sh (so by `npm test`): installs, from Debian's packages, the
# tools the tests run that a fresh machine lacks. --no-upgrade: upgrading PostgreSQL's
# packages under the running server would break it until a restart.
set -euo pipefail

need=()
command -v kcat >/dev/null || need+=(kcat)                     # Kafka mock cluster for the tests
command -v docker-compose >/dev/null || need+=(docker-compose)  # `docker-compose config -q` check
command -v pgbouncer >/dev/null || need+=(pgbouncer)            # runs behind a transaction/session pooler
command -v chromium >/dev/null || need+=(chromium)              # console tests (playwright-core drives it)
command -v firefox-esr >/dev/null || need+=(firefox-esr)        # console tests in Firefox (WebDriver BiDi)
command -v promtool >/dev/null || need+=(prometheus)            # promtool checks and tests the alert rules
command -v openssl >/dev/null || need+=(openssl)                # certificates for the NATS and Redis TLS tests
command -v mosquitto_passwd >/dev/null || need+=(mosquitto)     # MQTT tests run Mosquittos of their own (config, ACL, password file)
[ ${#need[@]} -eq 0 ] && exit 0

echo "test-setup: installing ${need[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "test-setup: the tests need ${need[*]}; install them (apt-get install --no-upgrade ${need[*]}) or run as root" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-upgrade --no-install-recommends "${need[@]}" >/dev/null; }
apt_install || { "${sudo[@]}" apt-get update -qq && apt_install; }
