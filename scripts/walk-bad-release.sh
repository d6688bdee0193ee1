#!/usr/bin/env bash
# "A bad release ships": the README's walk-through, command for command. Run it from the
# repository's root in an empty state (it makes walk.db, deliveries.jsonl and two
# background processes, stopped on exit). tests/test_walk_bad_release.py runs this file.
set -euo pipefail
RH=${RH:-.venv/bin/relhealth}
PY=${PY:-.venv/bin/python}
HOOK_PORT=${HOOK_PORT:-9100}
FAIL_FIRST=${FAIL_FIRST:-2}
export RELHEALTH_DATABASE_URL=${RELHEALTH_DATABASE_URL:-sqlite+aiosqlite:///walk.db}
export RELHEALTH_PORT=${RELHEALTH_PORT:-9000}
export RELHEALTH_WEBHOOK_ALLOW_PRIVATE=1  # the receiver below listens on 127.0.0.1
BASE=http://127.0.0.1:$RELHEALTH_PORT
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

# 1. A project (its DSN goes into the app), a token for the pipeline, a health gate
#    (WARN below 99 % crash-free sessions, FAIL below 97 %, at least 100 sessions) and a
#    webhook endpoint with a receiver that checks signatures and fails twice first.
OUT=$($RH projects create acme shop)
PROJECT=$(echo "$OUT" | sed -n 's/^project id: //p')
DSN=$(echo "$OUT" | sed -n 's/^DSN: //p')
TOKEN=$($RH tokens create acme --scope org:read org:write)
$RH gates add --project "$PROJECT" --environment production \
  --crash-free-sessions-target 99 --crash-free-sessions-critical 97 --min-sessions 100
SECRET=$($RH webhooks add --org acme --url "http://127.0.0.1:$HOOK_PORT/" | sed -n 's/^secret: \([^ ]*\).*/\1/p')
$RH webhooks receive --port "$HOOK_PORT" --secret "$SECRET" --fail-first "$FAIL_FIRST" > deliveries.jsonl &
$RH serve > serve.log 2>&1 &
until curl -sf "$BASE/readyz" > /dev/null; do sleep 0.2; done

# 2. An alert on the latest release: crash-free sessions over the last hour, WARNING
#    below 99 %, CRITICAL below 97 %, once it has 100 sessions.
curl -sf "$BASE/graphql" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"query": "mutation($p: ID!) { createAlertRule(input: {project: $p, name: \"latest crash-free\", environment: \"production\", releases: {latest: true}, metric: CRASH_FREE_SESSIONS, window: LAST_HOUR, warning: 99, critical: 97, minSessions: 100}) { alertRule { id } userErrors { message } } }", "variables": {"p": "'"$PROJECT"'"}}'
echo

# 3. shop@1.0 is healthy; shop@2.0 ships with a crash in one session out of ten.
$PY examples/shop_app.py --dsn "$DSN" --release shop@1.0 --sessions 300
$PY examples/shop_app.py --dsn "$DSN" --release shop@2.0 --sessions 200 --crash-every 10

# 4. The rollout pipeline asks the gate; exit 2 (FAIL) halts it.
if $RH gate --project "$PROJECT" --release shop@2.0 --environment production --url "$BASE" --token "$TOKEN"; then
  echo "pipeline: promote shop@2.0"
else
  echo "pipeline: halted (relhealth gate exited $?)"
fi

# 5. Within a minute the server's evaluator sees it: the alert goes CRITICAL and the
#    gate's verdict for shop@2.0 changes to FAIL. The webhook fires for both (after the
#    receiver's two refusals, relhealth retries) and the receiver prints each event once.
until grep -q '"to": "CRITICAL"' deliveries.jsonl && grep -q '"to": "FAIL"' deliveries.jsonl; do sleep 1; done
cat deliveries.jsonl
