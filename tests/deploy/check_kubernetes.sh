#!/bin/sh
# The Kubernetes manifest pins its image to the release (never a moving
# tag), keeps a voluntary disruption from evicting the one replica, and lets
# only agency systems, probes and monitoring reach hubd.
# Usage: check_kubernetes.sh MANIFEST VERSION
set -eu
manifest=$1
version=$2
fail=0
grep -Eq "^ *image: drive-hub(:$version|@sha256:[0-9a-f]{64})\$" "$manifest" ||
  { echo "the image is not pinned to drive-hub:$version or a digest"; fail=1; }
! grep -Eq '^ *image: .*:latest' "$manifest" || { echo "an image uses :latest"; fail=1; }
for kind in StatefulSet PodDisruptionBudget NetworkPolicy; do
  grep -q "^kind: $kind\$" "$manifest" || { echo "no $kind"; fail=1; }
done
grep -q "maxUnavailable: 0" "$manifest" || { echo "the disruption budget allows eviction"; fail=1; }
grep -q "policyTypes: \[Ingress, Egress\]" "$manifest" ||
  { echo "the network policy does not govern both directions"; fail=1; }
[ "$fail" -eq 0 ] && echo "image pinned to $version; disruption budget and network policy present"
exit "$fail"
