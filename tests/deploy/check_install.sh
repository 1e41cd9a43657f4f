#!/bin/sh
# `cmake --install` and the Debian package hold what an operator installs,
# and the installed systemd unit starts the installed hubd.
# Usage: check_install.sh BUILD_DIR
set -eu
build=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
DESTDIR="$root/staged" cmake --install "$build" > /dev/null
fail=0
unit=$(find "$root/staged" -path '*/lib/systemd/system/hubd.service' | head -n 1)
[ -n "$unit" ] || { echo "no systemd unit installed"; exit 1; }
hubd=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[ -x "$root/staged$hubd" ] || { echo "the unit starts $hubd, which is not installed"; fail=1; }
"$root/staged$hubd" --version > /dev/null || { echo "the installed hubd does not run"; fail=1; }
for file in hubctl; do
  [ -x "$(dirname "$root/staged$hubd")/$file" ] || { echo "$file is not installed"; fail=1; }
done
for file in examples/hubd.textproto examples/sharing_protocol.textproto certs.sh \
            proto/hub/v1/event_service.proto; do
  [ -n "$(find "$root/staged" -path "*/share/hubd/$file")" ] || { echo "$file not installed"; fail=1; }
done
[ -n "$(find "$root/staged" -path '*/doc/*/OPERATIONS.md')" ] || { echo "no OPERATIONS.md"; fail=1; }

# systemd's own checks of the installed unit: it parses cleanly (any warning
# fails) with its ExecStart pointing at the staged hubd, and its sandboxing
# keeps the exposure score at 2.0 ("OK") or below.
sed "s|^ExecStart=$hubd|ExecStart=$root/staged$hubd|" "$unit" > "$root/hubd.service"
if ! systemd-analyze verify --man=no "$root/hubd.service" > "$root/verify.log" 2>&1 ||
   [ -s "$root/verify.log" ]; then
  cat "$root/verify.log"; echo "systemd-analyze verify found fault with the unit"; fail=1
fi
exposure=$(systemd-analyze security --offline=true --root="$root/staged" "$unit" 2>&1 |
           sed -n 's/.*Overall exposure level for hubd.service: \([0-9.]*\).*/\1/p')
systemd-analyze security --offline=true --threshold=20 --root="$root/staged" "$unit" \
  > /dev/null 2>&1 || { echo "the unit's exposure is ${exposure:-unknown}, above 2.0"; fail=1; }

# The package: the same files, and the runtime libraries as dependencies.
(cd "$build" && cpack -G DEB -B "$root/package" > "$root/cpack.log" 2>&1) ||
  { cat "$root/cpack.log"; echo "cpack failed"; exit 1; }
deb=$(find "$root/package" -maxdepth 1 -name '*.deb' | head -n 1)
[ -n "$deb" ] || { echo "no .deb made"; exit 1; }
dpkg-deb -c "$deb" > "$root/contents"
grep -q "\.$hubd\$" "$root/contents" || { echo "the package lacks $hubd"; fail=1; }
depends=$(dpkg-deb -f "$deb" Depends)
# (RocksDB is linked statically: its compression libraries stand for it.)
for library in libgrpc++ libprotobuf libssl libprometheus-cpp-pull libzstd; do
  echo "$depends" | grep -q "$library" || { echo "the package does not depend on $library"; fail=1; }
done
[ "$fail" -eq 0 ] && echo "installed and packaged: $(basename "$deb"), depends on: $depends;" \
  "systemd-analyze verify clean, exposure $exposure"
exit "$fail"
