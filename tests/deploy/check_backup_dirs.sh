#!/usr/bin/env bash
# Every shipped deployment can write its backups: the backup folder its
# configuration names (backup.directory, default "<data_dir>-backups") is
# one the deployment makes writable for hubd.
#   systemd:    under a StateDirectory= or ReadWritePaths= of the unit;
#   container:  a VOLUME of the image, created owned by the hubd user;
#   Kubernetes: the mountPath of a volume mounted read-write.
# Exit status 0 when all three can, 1 naming each that cannot.
set -euo pipefail
deploy=${1:?usage: $0 DEPLOY_DIR}

# The backup folder a hubd configuration file names.
backup_dir() {
  local config=$1 data directory
  data=$(sed -n 's/^data_dir: *"\(.*\)"/\1/p' "$config")
  directory=$(awk '/^backup *\{/ { inside = 1 } inside && /^ *directory:/ {
    match($0, /"[^"]*"/); print substr($0, RSTART + 1, RLENGTH - 2) } inside && /\}/ { inside = 0 }' "$config")
  echo "${directory:-${data:-./data}-backups}"
}

# Whether $1 is $2 or below it.
under() { [ "$1" = "$2" ] || [ "${1#"$2"/}" != "$1" ]; }

failures=0
fail() { echo "$*" >&2; failures=1; }

# systemd
dir=$(backup_dir "$deploy/systemd/hubd.textproto")
writable=()
for name in $(sed -n 's/^StateDirectory=//p' "$deploy/systemd/hubd.service"); do
  writable+=("/var/lib/$name")
done
for path in $(sed -n 's/^ReadWritePaths=//p' "$deploy/systemd/hubd.service"); do
  writable+=("${path#-}")
done
ok=0
for path in "${writable[@]}"; do under "$dir" "$path" && ok=1; done
[ $ok -eq 1 ] || fail "systemd: backups go to $dir, which hubd.service does not make writable (${writable[*]})"

# container
dir=$(backup_dir "$deploy/container/hubd.textproto")
volumes=$(sed -n 's/^VOLUME *\[\(.*\)\]/\1/p' "$deploy/container/Dockerfile" | tr -d '",' )
ok=0
for path in $volumes; do under "$dir" "$path" && ok=1; done
[ $ok -eq 1 ] || fail "container: backups go to $dir, which is not a VOLUME of the image ($volumes)"
grep -E "install -d -o hubd .*$dir( |$)" "$deploy/container/Dockerfile" >/dev/null ||
  fail "container: $dir is not created owned by the hubd user"

# Kubernetes (it runs the container's configuration)
mounts=$(awk '/volumeMounts:/ { inside = 1; next }
  inside && /^ *- *\{/ { if ($0 !~ /readOnly: *true/) { match($0, /mountPath: *[^,}]+/);
    path = substr($0, RSTART, RLENGTH); sub(/mountPath: */, "", path); print path } next }
  inside { inside = 0 }' "$deploy/kubernetes/hubd.yaml")
ok=0
for path in $mounts; do under "$dir" "$path" && ok=1; done
[ $ok -eq 1 ] || fail "kubernetes: backups go to $dir, which no read-write volume mounts ($mounts)"

if [ $failures -ne 0 ]; then exit 1; fi
echo "backups are writable in every shipped deployment ($dir)"
