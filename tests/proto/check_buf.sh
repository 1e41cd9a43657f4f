#!/bin/sh
# The contract passes buf's STANDARD lint (with the exemptions proto/buf.yaml
# gives reasons for) and stays backward compatible, by buf's FILE rules, with
# every released contract in proto/released/ (hub-<version>.binpb, written at
# each release by `buf build --exclude-source-info -o`). And the check can
# fail: a copy of the contract that renumbers a field is refused.
# buf comes from npm: tests/npm_install.sh puts it in tools/npm.
# Usage: check_buf.sh SOURCE_DIR
set -eu
source_dir=$1
buf="$source_dir/tools/npm/node_modules/.bin/buf"
if [ ! -x "$buf" ]; then
  echo "buf is not installed: run tests/npm_install.sh (tests/run.sh does)" >&2
  exit 1
fi
cd "$source_dir/proto"
"$buf" lint
released=0
for image in released/*.binpb; do
  "$buf" breaking --against "$image"
  echo "compatible with $image"
  released=$((released + 1))
done
[ "$released" -gt 0 ] || { echo "no released contract in proto/released/" >&2; exit 1; }

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -r . "$copy/proto"
sed -i 's/^  string case_id = 1;$/  string case_id = 99;/' "$copy/proto/hub/v1/event_service.proto"
if (cd "$copy/proto" && "$buf" breaking --against "$image" >/dev/null 2>&1); then
  echo "buf breaking accepted a renumbered PublishRequest.case_id" >&2
  exit 1
fi
echo "buf lint clean; compatible with $released released contract(s); a renumbered field is refused"
