#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, starting them if
# they are installed but stopped, installing them (Debian, as root) if they are missing, or
# starting them with docker compose where Docker runs. Tests and the demo need both.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || psql -h 127.0.0.1 -U postgres -Atqc 'select 1' >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
wait_for() { for _ in $(seq 1 60); do "$1" && return 0; sleep 0.5; done; return 1; }

install_debian() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "services: installing $* with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

if [ -n "${TEST_DATABASE_URL:-}" ] || pg_up; then
  :
elif command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for pg_up || { echo "services: PostgreSQL did not start" >&2; exit 1; }
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker compose up -d postgres && wait_for pg_up
elif install_debian postgresql; then
  v=$(ls /etc/postgresql | head -1)
  sed -i 's/^\(local\|host\)\(.*\)\(peer\|scram-sha-256\|md5\)$/\1\2trust/' /etc/postgresql/"$v"/main/pg_hba.conf
  pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  wait_for pg_up || { echo "services: PostgreSQL did not start" >&2; exit 1; }
else
  echo "services: PostgreSQL is not answering on 127.0.0.1:5432. Install and start it (trust auth for user postgres)," >&2
  echo "          run 'docker compose up -d postgres', or set TEST_DATABASE_URL." >&2
  exit 1
fi

if [ -n "${TEST_REDIS_URL:-}" ] || redis_up; then
  :
elif command -v redis-server >/dev/null || install_debian redis-server; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis_up || { echo "services: Redis did not start" >&2; exit 1; }
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker compose up -d redis && wait_for redis_up
else
  echo "services: Redis is not answering on 127.0.0.1:6379. Install and start redis-server," >&2
  echo "          run 'docker compose up -d redis', or set TEST_REDIS_URL." >&2
  exit 1
fi
echo "services: PostgreSQL and Redis answer"
