#!/bin/sh
# The contract generates into the packages agency systems expect: Java
# (uk.org.drive.hub.v1, one file per message), C# (namespace Drive.Hub.V1),
# and names a Go package. protoc's own Java and C# generators are used, so
# no other toolchain is needed.
# Usage: check_language_packages.sh PROTOC PROTO_DIR
set -eu
protoc=$1
proto_dir=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/java" "$out/csharp"
"$protoc" -I "$proto_dir" --java_out="$out/java" --csharp_out="$out/csharp" "$proto_dir"/hub/v1/*.proto
fail=0
for expected in uk/org/drive/hub/v1/PublishRequest.java uk/org/drive/hub/v1/EventEnvelope.java \
                uk/org/drive/hub/v1/EventsProto.java; do
  [ -f "$out/java/$expected" ] || { echo "missing Java class $expected"; fail=1; }
done
grep -q "namespace Drive.Hub.V1" "$out/csharp/EventService.cs" ||
  { echo "EventService.cs is not in namespace Drive.Hub.V1"; fail=1; }
for proto in "$proto_dir"/hub/v1/*.proto; do
  grep -q '^option go_package = ' "$proto" || { echo "$proto names no go_package"; fail=1; }
done
[ "$fail" -eq 0 ] && echo "Java, C# and Go packages are set for every file of the contract"
exit "$fail"
