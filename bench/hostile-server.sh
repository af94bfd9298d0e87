#!/usr/bin/env bash
# Peak memory of `seedship server` facing a tenant's 2 GiB vault `config` upload and a seed of a
# container (written by a Completed import job) whose `config` is 2 GiB: both must be refused
# (413, 422) with the server's resident memory flat. Reads VmHWM from /proc/<pid>/status.
#
#   bash bench/hostile-server.sh            # builds the release binary first
#   BIN=target/debug/seedship bash bench/hostile-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
    cargo build --release --locked -q -p seedship-cli
    BIN=target/release/seedship
fi
W=$(mktemp -d)
SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$W"' EXIT
$BIN --json server --data-dir "$W/data" --listen 127.0.0.1:0 > "$W/ready.json" 2> "$W/server.log" &
SPID=$!
for _ in $(seq 100); do [ -s "$W/ready.json" ] && break; sleep 0.2; done
URL=$(python3 -c "import json;print(json.load(open('$W/ready.json'))['url'])")
hwm() { grep -E 'VmHWM' /proc/$SPID/status | tr -s ' '; }
token() { python3 -c "import tomllib;f=tomllib.load(open('$1','rb'));print(f['id']+'.'+f['secret'])"; }
echo "after start: $(hwm)"
S="$BIN --json"
$S admin account create acme --admin-credentials "$W/data/admin-credentials" --out "$W/acme" >/dev/null
$S admin operator create staff --admin-credentials "$W/data/admin-credentials" --out "$W/staff" >/dev/null
$S storage create imports --credentials "$W/acme" >/dev/null
$S container create import1 --storage-account imports --credentials "$W/acme" >/dev/null
$S vault create laptop --credentials "$W/acme" --out "$W/vault" >/dev/null
$S agent register --credentials "$W/vault" --name a --config-dir "$W/agent" >/dev/null
field() { grep "^$1 = " "$W/agent/agent.toml" | cut -d'"' -f2; }
echo "before upload: $(hwm)"
head -c 2147483648 /dev/zero | curl -s -o "$W/up.out" -w 'config upload: HTTP %{http_code} after %{size_upload} bytes sent\n' \
    -X POST -H 'Expect:' -T - -u "$(field id):$(field secret)" "$(field url)config" || echo "curl exit $?"
echo "after a 2 GiB config upload: $(hwm)"

# A Completed import job wrote folder repo/ of the container (by API calls; the drives are not
# what is measured here), which holds a 2 GiB config and a key.
OWNER=$(token "$W/acme"); STAFF=$(token "$W/staff")
DRIVE=0123456789abcdef0123456789abcdef
NOW=2026-12-01T00:00:00.000Z
api() { curl -sf -o /dev/null -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$3" "$URL$2"; }
api "$OWNER" /api/v1/jobs '{"name":"import1-repo","job_type":"Import","destination":{"storage_account":"imports","container":"import1","prefix":"repo","disposition":"rename"},"region":"local","contact":{"name":"A","email":"a@example.com","phone":""},"return_shipping":{"carrier":"DHL","account_number":"1","address":{"recipient":"A","street":["1 Road"],"city":"C","postal_code":"1","country":"NL","phone":""}},"drives":[{"drive_id":"'$DRIVE'","wrapped_key":"k","manifest_hash":"h","bytes":0}]}'
J=/api/v1/jobs/acme/import1-repo/actions
api "$OWNER" $J '{"action":"ship","carrier":"DHL","tracking_number":"T1","ship_date":"2026-11-30","drive_count":1}'
api "$STAFF" $J '{"action":"receive","drive_id":"'$DRIVE'"}'
api "$STAFF" $J '{"action":"start-transfer","drive_id":"'$DRIVE'"}'
api "$STAFF" $J '{"action":"finish-transfer","drive_id":"'$DRIVE'","log":{"job":"import1-repo","drive_id":"'$DRIVE'","status":"Completed","started_at":"'$NOW'","finished_at":"'$NOW'","blobs":[]}}'
api "$STAFF" $J '{"action":"ship-back","tracking_number":"B1"}'
CID=$(sqlite3 "$W/data/metadata.db" "SELECT id FROM containers WHERE name='import1'")
REPO="$W/data/objects/containers/$CID/repo"
mkdir -p "$REPO/keys"
truncate -s 2G "$REPO/config"
head -c 100 /dev/urandom > "$REPO/keys/$(head -c 100 /dev/urandom | sha256sum | cut -c1-64)"
echo "seed: $($S vault seed laptop --storage-account imports --container import1 --prefix repo --credentials "$W/acme" 2>&1 | tail -1)"
echo "after a seed of a 2 GiB config: $(hwm)"
