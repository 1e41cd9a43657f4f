#!/usr/bin/env bash
# Every shipped deployment can write its backups and its keys, and keeps the
# keys out of the data folder: the backup folder (backup.directory, default
# "<data_dir>-backups") and the keys folder (keys_dir, default
# "<data_dir>-keys") its configuration names are ones the deployment makes
# writable for hubd, and the keys folder is not inside data_dir.
#   systemd:    under a StateDirectory= or ReadWritePaths= of the unit;
#   container:  a VOLUME of the image, created owned by the hubd user;
#   Kubernetes: the mountPath of a volume mounted read-write.
# Exit status 0 when all three can, 1 naming each that cannot.
set -euo pipefail
deploy=${1:?usage: $0 DEPLOY_DIR}

data_dir() { local d; d=$(sed -n 's/^data_dir: *"\(.*\)"/\1/p' "$1"); echo "${d:-./data}"; }

# The backup folder a hubd configuration file names.
backup_dir() {
  local config=$1 directory
  directory=$(awk '/^backup *\{/ { inside = 1 } inside && /^ *directory:/ {
    match($0, /"[^"]*"/); print substr($0, RSTART + 1, RLENGTH - 2) } inside && /\}/ { inside = 0 }' "$config")
  echo "${directory:-$(data_dir "$config")-backups}"
}

# The keys folder a hubd configuration file names.
keys_dir() {
  local config=$1 directory
  directory=$(sed -n 's/^keys_dir: *"\(.*\)"/\1/p' "$config")
  echo "${directory:-$(data_dir "$config")-keys}"
}

# Whether $1 is $2 or below it.
under() { [ "$1" = "$2" ] || [ "${1#"$2"/}" != "$1" ]; }

failures=0
fail() { echo "$*" >&2; failures=1; }

# systemd
config="$deploy/systemd/hubd.textproto"
writable=()
for name in $(sed -n 's/^StateDirectory=//p' "$deploy/systemd/hubd.service"); do
  writable+=("/var/lib/$name")
done
for path in $(sed -n 's/^ReadWritePaths=//p' "$deploy/systemd/hubd.service"); do
  writable+=("${path#-}")
done
for what in backup keys; do
  dir=$("${what}_dir" "$config")
  ok=0
  for path in "${writable[@]}"; do under "$dir" "$path" && ok=1; done
  [ $ok -eq 1 ] || fail "systemd: $what go to $dir, which hubd.service does not make writable (${writable[*]})"
done
under "$(keys_dir "$config")" "$(data_dir "$config")" && fail "systemd: the keys are inside the data folder"

# container
config="$deploy/container/hubd.textproto"
volumes=$(sed -n 's/^VOLUME *\[\(.*\)\]/\1/p' "$deploy/container/Dockerfile" | tr -d '",' )
for what in backup keys; do
  dir=$("${what}_dir" "$config")
  ok=0
  volume=""
  for path in $volumes; do under "$dir" "$path" && ok=1 && volume=$path; done
  [ $ok -eq 1 ] || fail "container: $what go to $dir, which is not a VOLUME of the image ($volumes)"
  grep -E "install -d -o hubd .*$volume( |$)" "$deploy/container/Dockerfile" >/dev/null ||
    fail "container: $volume (for $what) is not created owned by the hubd user"
done
under "$(keys_dir "$config")" "$(data_dir "$config")" && fail "container: the keys are inside the data folder"

# Kubernetes (it runs the container's configuration)
mounts=$(awk '/volumeMounts:/ { inside = 1; next }
  inside && /^ *- *\{/ { if ($0 !~ /readOnly: *true/) { match($0, /mountPath: *[^,}]+/);
    path = substr($0, RSTART, RLENGTH); sub(/mountPath: */, "", path); print path } next }
  inside { inside = 0 }' "$deploy/kubernetes/hubd.yaml")
for what in backup keys; do
  dir=$("${what}_dir" "$config")
  ok=0
  for path in $mounts; do under "$dir" "$path" && ok=1; done
  [ $ok -eq 1 ] || fail "kubernetes: $what go to $dir, which no read-write volume mounts ($mounts)"
done

if [ $failures -ne 0 ]; then exit 1; fi
echo "backups and keys are writable in every shipped deployment, keys outside the data folder"
