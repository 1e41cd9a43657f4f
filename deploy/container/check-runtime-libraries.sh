#!/usr/bin/env bash
# Checks, without a container runtime, that the container image's runtime
# stage can start what it ships: every shared library that each binary loads
# (as ldd resolves it on this Debian 12 build machine) must belong to a
# package the runtime stage installs, to one of their dependencies, or to
# the base image (Essential packages and apt, with their dependencies).
#
#   deploy/container/check-runtime-libraries.sh DOCKERFILE BINARY...
#
# Exit status 0 when every library is provided, 1 naming each one that is
# not (and the package it comes from), 2 on bad usage.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 DOCKERFILE BINARY..." >&2
  exit 2
fi
dockerfile=$1
shift

# The packages the last stage installs: the words after
# --no-install-recommends up to the end of that command.
runtime_packages=$(awk '
  /^FROM / { stage = stage + 1; packages = "" }
  { line = $0; sub(/\\$/, "", line) }
  collecting { packages = packages " " line; if ($0 !~ /\\$/ || line ~ /&&/) collecting = 0 }
  /--no-install-recommends/ { packages = packages " " line; collecting = ($0 ~ /\\$/) }
  END { print packages }' "$dockerfile" |
  tr ' ' '\n' | sed -e 's/&&.*//' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
  grep -vE '^(apt-get|install|update|rm|useradd|install)$' | sort -u)
if [ -z "$runtime_packages" ]; then
  echo "$dockerfile: no apt-get install --no-install-recommends in its last stage" >&2
  exit 2
fi

# Installed packages' dependencies, as this machine knows them (the build
# machine has every runtime package installed: it runs the binaries), read
# once: alternatives count as dependencies too, versions and
# architectures are dropped.
declare -A depends=()
while read -r package list; do
  depends[$package]=$list
done < <(dpkg-query -W -f='${Package}\t${Depends}, ${Pre-Depends}\n' | awk -F'\t' '{
  list = $2
  gsub(/\([^)]*\)/, "", list); gsub(/:any/, "", list); gsub(/[|,]/, " ", list)
  print $1, list
}')

declare -A provided=()
closure() {
  local queue=("$@")
  while [ ${#queue[@]} -gt 0 ]; do
    local package=${queue[0]}
    queue=("${queue[@]:1}")
    if [ -n "${provided[$package]:-}" ]; then continue; fi
    provided[$package]=1
    local dependency
    for dependency in ${depends[$package]:-}; do
      if [ -z "${provided[$dependency]:-}" ]; then queue+=("$dependency"); fi
    done
  done
}
base=$(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" { print $1 }')
# shellcheck disable=SC2086
closure apt $base $runtime_packages

# Every library each binary loads, resolved to its real file; one dpkg -S
# for all of them (each call reads the whole package database).
declare -A libraries_of=()
declare -A real_path=()
for binary in "$@"; do
  if [ ! -x "$binary" ]; then
    echo "$binary: not an executable (build it first)" >&2
    exit 2
  fi
  while read -r library; do
    real_path[$library]=$(readlink -f "$library")
    libraries_of[$binary]+="$library "
  done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
done
declare -A owner=()
while IFS= read -r line; do
  owner[${line#*: }]=${line%%:*}
done < <(dpkg -S "${real_path[@]}" "${!real_path[@]}" 2>/dev/null || true)

missing=0
for binary in "$@"; do
  for library in ${libraries_of[$binary]}; do
    package=${owner[${real_path[$library]}]:-${owner[$library]:-}}
    if [ -z "$package" ]; then
      echo "$(basename "$binary"): $library belongs to no Debian package" >&2
      missing=1
    elif [ -z "${provided[$package]:-}" ]; then
      echo "$(basename "$binary"): $library comes from $package, which the image's runtime stage does not install" >&2
      missing=1
    fi
  done
done
if [ $missing -ne 0 ]; then
  echo "$dockerfile: add the packages above to the runtime stage's apt-get install" >&2
  exit 1
fi
echo "$dockerfile: every library of $(for b in "$@"; do basename "$b"; done | paste -sd' ') is installed by the runtime stage"
