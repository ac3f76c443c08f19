#!/usr/bin/env bash
# Schemathesis against a live server (a fresh SQLite database), every check and every phase,
# once as staff (admin bearer token) and once as an approved merchant (API key).
# Usage: tests/fuzz/run.sh <server binary> <schemathesis executable> [max examples] [--strict]
#
# --strict: schema-valid data only, without the 422 allowance of schemathesis.toml.
# Positive-data acceptance is then judged from the server's JSON log: every 422 it answered
# must carry one of the codes in allowed-422.txt (the rules no schema can express); any other
# 422 fails the run.
set -euo pipefail
bin=$1
st=$2
examples=${3:-50}
strict=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin=fuzz-admin-token-0123456789
# Generous budgets: the rate limiter is tested elsewhere; here it would only hide paths.
(cd "$work" && ADMIN_TOKEN=$admin LISTEN="127.0.0.1:$port" SCHEDULER=off LOG_FORMAT=json \
  APPLY_RATE_PER_MINUTE=1000000 KEY_RATE_PER_SECOND=1000000 exec "$bin" >"$work/server.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "$base/readyz" >/dev/null

applied=$(curl -sf -X POST "$base/api/v1/merchants" -H 'content-type: application/json' -d '{
  "kind": "industry_belt", "legal_name": "义乌市星辰日用品有限公司", "display_name": "Fuzz 商户",
  "uscc": "91440300708461136T", "contact_email": "ops@xingchen.example", "province": "浙江",
  "city": "金华", "category": "日用百货", "industry_belt": "义乌小商品"}')
id=$(printf '%s' "$applied" | python3 -c 'import json,sys; print(json.load(sys.stdin)["merchant"]["id"])')
key=$(printf '%s' "$applied" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"]["key"])')
curl -sf -X POST "$base/api/v1/merchants/$id/decisions" -H "authorization: Bearer $admin" \
  -H 'content-type: application/json' -d '{"action": "approve", "reason": "ok"}' >/dev/null

status=0
run() {
  local who=$1 header=$2
  echo "--- schemathesis as $who ---"
  if [ "$strict" = --strict ]; then
    (cd "$work" && "$st" run "$root/openapi/openapi.json" \
      --url "$base" --mode positive --checks all --exclude-checks positive_data_acceptance \
      --phases examples,coverage,fuzzing,stateful \
      --max-examples "$examples" --workers 1 --seed 20261125 -H "$header") || status=1
  else
    (cd "$work" && "$st" --config-file "$here/schemathesis.toml" run "$root/openapi/openapi.json" \
      --url "$base" --checks all --phases examples,coverage,fuzzing,stateful \
      --max-examples "$examples" --workers 1 --seed 20261125 -H "$header") || status=1
  fi
}
# The merchant first: the staff run may suspend it.
run merchant "X-API-Key: $key"
run staff "Authorization: Bearer $admin"
if grep -q '"status":5' "$work/server.log"; then
  echo "the server logged a 5xx:"; grep '"status":5' "$work/server.log" | head; status=1
fi
if [ "$strict" = --strict ]; then
  allowed=$(grep -v '^#' "$here/allowed-422.txt" | awk 'NF {print $1}')
  unlisted=$(python3 - "$work/server.log" $allowed <<'PY'
import json, sys
allowed = set(sys.argv[2:])
seen = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    fields = entry.get("fields", entry)
    if fields.get("status") == 422:
        code = fields.get("code", "")
        if code not in allowed:
            key = (code, fields.get("operation", ""))
            seen[key] = seen.get(key, 0) + 1
for (code, op), n in sorted(seen.items()):
    print(f"{n} × 422 {code or '(no code)'} from {op}")
PY
)
  if [ -n "$unlisted" ]; then
    echo "422 answers with a code outside allowed-422.txt (a rule the schema should express):"
    echo "$unlisted"; status=1
  fi
fi
exit $status
