#!/usr/bin/env bash
# Run by `npm test` (pretest): installs the tools the tests run (install-test-tools.sh),
# makes sure every local service the tests talk to is up, and that PostgreSQL runs with
# wal_level = logical (the `wal` mode's tests need it; the setting needs a server restart,
# done once, the first time).
set -euo pipefail

bash "$(dirname "$0")/install-test-tools.sh"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "test-setup: nothing answers on 127.0.0.1:$1 after starting $2" >&2
  return 1
}

start_if_down() { # port name command...
  local port=$1 name=$2; shift 2
  port_open "$port" && return 0
  echo "test-setup: starting $name" >&2
  "$@" >/dev/null 2>&1 || true
  wait_port "$port" "$name"
}

cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
start_if_down 5432 postgresql pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
start_if_down 5672 rabbitmq rabbitmq-server -detached
start_if_down 6379 redis redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
start_if_down 1883 mosquitto mosquitto -d -c /etc/mosquitto/mosquitto.conf
start_if_down 4222 nats start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log

psql_admin() { psql -X -q -At -h 127.0.0.1 -U postgres -d postgres "$@"; }
if [ "$(psql_admin -c 'SHOW wal_level')" != "logical" ]; then
  echo "test-setup: setting wal_level = logical and restarting PostgreSQL (once)" >&2
  psql_admin -c 'ALTER SYSTEM SET wal_level = logical'
  pg_ctlcluster --skip-systemctl-redirect "$cluster" main restart
  wait_port 5432 postgresql
  for _ in $(seq 1 60); do psql_admin -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
fi
