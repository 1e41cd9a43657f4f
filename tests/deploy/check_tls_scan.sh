#!/usr/bin/env bash
# An external TLS scan of a running hub, by testssl.sh (Debian's package):
# protocols, cipher categories, forward secrecy, the server's cipher order,
# its certificate (chain to the partnership CA, CRL distribution point) and
# the known vulnerabilities. Fails on any finding above LOW, and writes the
# verdict to VERDICT_FILE for the record.
#
#   check_tls_scan.sh HUBD SOURCE_DIR VERDICT_FILE
set -euo pipefail
hubd=$1 src=$2 verdict_file=$3

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$src/deploy/certs.sh" dev "$work/data/certs" "$src/deploy/examples/sharing_protocol.textproto" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$src" && exec "$hubd" --data_dir="$work/data" --listen_address="127.0.0.1:$port") \
  > "$work/hubd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q 'msg="hubd ready"' "$work/hubd.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/hubd.log" >&2; echo "hubd did not start" >&2; exit 1; }
  sleep 0.2
done
grep -q 'msg="hubd ready"' "$work/hubd.log" || { echo "hubd did not get ready" >&2; exit 1; }

# testssl's exit status counts findings of every kind; the JSON is judged.
testssl --quiet --color 0 --warnings off --add-ca "$work/data/certs/ca.crt" --ip 127.0.0.1 \
  --protocols --std --fs --server-preference --server-defaults --vulnerable \
  --jsonfile "$work/scan.json" "127.0.0.1:$port" > "$work/scan.txt" 2>&1 || true

python3 - "$work/scan.json" "$verdict_file" <<'PY'
import json, sys
findings = json.load(open(sys.argv[1]))
order = ["OK", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
ranked = [f for f in findings if f.get("severity") in order]
worst = max((order.index(f["severity"]) for f in ranked), default=0)
above_low = [f for f in ranked if order.index(f["severity"]) > order.index("LOW")]
pick = {f["id"]: f["finding"] for f in findings}
lines = [
    f"testssl.sh scan of a running hubd: {len(ranked)} findings, highest severity {order[worst]}",
    f"  protocols: TLS 1.2 {pick.get('TLS1_2', '?')}; TLS 1.3 {pick.get('TLS1_3', '?')}; "
    f"TLS 1.1 {pick.get('TLS1_1', '?')}",
    f"  server cipher order: {pick.get('cipher_order', '?')}",
    f"  chain of trust: {pick.get('cert_chain_of_trust', '?')}; "
    f"CRL: {pick.get('cert_crlDistributionPoints', '?')}",
]
for f in above_low:
    lines.append(f"  ABOVE LOW: {f['id']} {f['severity']}: {f['finding']}")
text = "\n".join(lines) + "\n"
open(sys.argv[2], "w").write(text)
print(text, end="")
sys.exit(1 if above_low or not ranked else 0)
PY
