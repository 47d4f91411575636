#!/usr/bin/env bash
# Calling `shuangsuiji serve` with curl alone: create a task, draw it with the system's seed,
# assign its teams, fetch the bundle, have the service re-derive it, and check the audit log.
#
#   SSJ_URL=http://127.0.0.1:8750 SSJ_KEY_PLANNER=… SSJ_KEY_DRAWER=… SSJ_KEY_AUDITOR=… \
#     bash examples/server_curl.sh
#
# Optional: SSJ_TASK (a new task code), SSJ_PLAN, SSJ_DEPARTMENT, SSJ_ITEM, SSJ_START, SSJ_END,
# SSJ_CUTOFF. The store needs the plan, department and item (docs/server.md shows the setup).
# A policy with [draw] independent_parties above 0 refuses a system seed (409): run the
# ceremony instead, as examples/server_client.mjs does.
set -euo pipefail

URL=${SSJ_URL:-http://127.0.0.1:8750}
TASK=${SSJ_TASK:-CURL-$(date +%s)}
PLAN=${SSJ_PLAN:-P}
DEPT=${SSJ_DEPARTMENT:-SCJG}
ITEM=${SSJ_ITEM:-SCJG-01}
START=${SSJ_START:-2026-07-01}
END=${SSJ_END:-2026-09-30}
CUTOFF=${SSJ_CUTOFF:-2026-06-30}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# One request: METHOD PATH KEY [JSON body]; prints the body, fails on any status but 200.
call() {
  local method=$1 path=$2 key=$3 body=${4:-}
  local args=(-sS -X "$method" -H "Authorization: Bearer $key" -H "X-Request-ID: curl-$RANDOM"
              -o "$WORK/out" -w '%{http_code}')
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
  fi
  local status
  status=$(curl "${args[@]}" "$URL$path")
  if [ "$status" != 200 ]; then
    echo "$method $path -> $status: $(cat "$WORK/out")" >&2
    return 1
  fi
  cat "$WORK/out"
}

curl -sSf "$URL/health" >/dev/null
echo "service up at $URL"

call POST /tasks "$SSJ_KEY_PLANNER" "{\"code\": \"$TASK\", \"plan\": \"$PLAN\",
  \"name\": \"双随机抽查 $TASK\", \"departments\": [\"$DEPT\"], \"items\": [\"$ITEM\"],
  \"start\": \"$START\", \"end\": \"$END\"}" >/dev/null
echo "task $TASK created"

call POST "/tasks/$TASK/draw" "$SSJ_KEY_DRAWER" "{\"cutoff\": \"$CUTOFF\"}" >"$WORK/draw.json"
echo "drawn: $(grep -o '"selected":\[[^]]*\]' "$WORK/draw.json" | tr ',' '\n' | wc -l) entities"

call POST "/tasks/$TASK/teams/assign" "$SSJ_KEY_DRAWER" '{}' >/dev/null
call GET "/tasks/$TASK/teams?limit=3" "$SSJ_KEY_AUDITOR" >"$WORK/teams.json"
echo "teams assigned: $(grep -o '"total":[0-9]*' "$WORK/teams.json")"

# The bundle is streamed; any client can re-derive it (here the service does, for brevity).
call GET "/tasks/$TASK/bundle" "$SSJ_KEY_AUDITOR" >"$WORK/bundle.json"
{ printf '{"bundle": '; cat "$WORK/bundle.json"; printf '}'; } >"$WORK/verify.json"
call POST /verify "$SSJ_KEY_AUDITOR" "@$WORK/verify.json" >"$WORK/report.json"
grep -q '"ok":true' "$WORK/report.json" || { echo "bundle does not verify" >&2; exit 1; }
echo "bundle re-derives: $(cat "$WORK/report.json")"

# Who did it: every event names the person, the role and the request.
call GET "/audit/events?after=0&limit=1000" "$SSJ_KEY_AUDITOR" >"$WORK/events.json"
grep -q '"role":"drawer"' "$WORK/events.json" || { echo "no structured actor" >&2; exit 1; }

call GET /verify-log "$SSJ_KEY_AUDITOR" >"$WORK/log.json"
grep -q '"ok":true' "$WORK/log.json" || { echo "verify-log: $(cat "$WORK/log.json")" >&2; exit 1; }
echo "audit log and tables verify"
