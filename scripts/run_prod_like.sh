#!/usr/bin/env bash
# A production-like run on this machine (`make run-prod-like`): HTTPS with a self-signed
# certificate, gunicorn and a Celery worker, PostgreSQL and Redis, DEBUG off and the
# production settings unchanged. Ctrl-C stops both processes.
#
#   PRODLIKE_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/listexp_prodlike
#   PRODLIKE_REDIS_URL     default redis://127.0.0.1:6379/2
#   PRODLIKE_PORT          default 8443
#
# The certificate, the secret key and the collected static files are kept in
# var/prodlike/, so a second run reuses them (delete the directory to start afresh).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=$VENV/bin/python
STATE=$PWD/var/prodlike
PORT=${PRODLIKE_PORT:-8443}

# Production settings from the environment only: nothing of a developer's shell leaks in.
unset TESTING SECURE_COOKIES HTTPS SECURE_HSTS_SECONDS SECURE_PROXY_SSL_HEADER
export DEBUG=0
export ALLOWED_HOSTS=127.0.0.1,localhost
export DATABASE_URL=${PRODLIKE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/listexp_prodlike}
export REDIS_URL=${PRODLIKE_REDIS_URL:-redis://127.0.0.1:6379/2}
export STATIC_ROOT=$STATE/static
export VAR_DIR=$STATE

mkdir -p "$STATE"
if [ ! -s "$STATE/secret_key" ]; then
  (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' \
    >"$STATE/secret_key")
fi
SECRET_KEY=$(cat "$STATE/secret_key")
export SECRET_KEY

if [ ! -s "$STATE/cert.pem" ] || [ ! -s "$STATE/key.pem" ]; then
  echo "Making a self-signed certificate for 127.0.0.1 and localhost in $STATE"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -sha256 \
    -subj "/CN=localhost" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null
  chmod 600 "$STATE/key.pem"
fi

# The database is made if it is missing; Redis must answer.
"$PY" - <<'EOF'
import os
import sys

import dj_database_url
import psycopg
import redis

db = dj_database_url.parse(os.environ["DATABASE_URL"])
server = {
    "host": db["HOST"] or None,
    "port": db["PORT"] or None,
    "user": db["USER"] or None,
    "password": db["PASSWORD"] or None,
}
try:
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
            print(f"Created the database {db['NAME']}.")
except psycopg.Error as error:
    sys.exit(f"PostgreSQL at {os.environ['DATABASE_URL']} cannot be used: {error}")
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
except redis.RedisError as error:
    sys.exit(f"Redis at {os.environ['REDIS_URL']} does not answer: {error}")
EOF

"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput --verbosity 0
"$PY" manage.py setup_demo --allow-without-debug

gunicorn=""
worker=""
stop() {
  trap - INT TERM EXIT
  echo "Stopping gunicorn and the Celery worker..."
  for pid in $gunicorn $worker; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  wait
}
trap stop INT TERM EXIT

"$VENV/bin/gunicorn" survey.wsgi \
  --bind "127.0.0.1:$PORT" \
  --certfile "$STATE/cert.pem" --keyfile "$STATE/key.pem" \
  --control-socket "$STATE/gunicorn.ctl" --workers 2 --access-logfile - &
gunicorn=$!
"$VENV/bin/celery" -A survey worker --loglevel=INFO --concurrency 1 \
  --without-gossip --without-mingle &
worker=$!

echo
echo "Serving https://127.0.0.1:$PORT/ (self-signed certificate: curl -k, or accept it"
echo "in the browser). Demo logins as printed above. Ctrl-C stops gunicorn and Celery."
# Either one ending (or Ctrl-C) ends the run and stops the other.
wait -n
