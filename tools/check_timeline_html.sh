#!/usr/bin/env bash
# The documented check that a `hubctl timeline --html` page renders: opens it
# in headless Chromium (Debian's `chromium` package, installed if missing),
# takes a screenshot and prints it to A4 PDF, and fails if either is empty.
#
#   tools/check_timeline_html.sh PAGE.html [OUT_PREFIX]
#
# writes OUT_PREFIX.png and OUT_PREFIX.pdf (default: next to the page).
set -euo pipefail
page=${1:?usage: tools/check_timeline_html.sh PAGE.html [OUT_PREFIX]}
out=${2:-${page%.html}}
[[ -f $page ]] || { echo "no such page: $page" >&2; exit 2; }

missing=()
for p in chromium fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

url="file://$(realpath "$page")"
# The page loads nothing from elsewhere; Chromium runs with no network use
# to prove it renders from the file alone.
chromium_args=(--headless=new --disable-gpu --no-sandbox --hide-scrollbars
               --proxy-server=127.0.0.1:9 --disable-background-networking)
chromium "${chromium_args[@]}" --window-size=1100,1400 --screenshot="$out.png" "$url" 2>/dev/null
chromium "${chromium_args[@]}" --no-pdf-header-footer --print-to-pdf="$out.pdf" "$url" 2>/dev/null
for f in "$out.png" "$out.pdf"; do
  [[ -s $f ]] || { echo "rendering failed: $f is empty" >&2; exit 1; }
done
pages=$(python3 -c 'import re,sys; print(len(re.findall(rb"/Type\s*/Page\b(?!s)", open(sys.argv[1], "rb").read())))' "$out.pdf")
((pages > 0)) || { echo "rendering failed: $out.pdf has no pages" >&2; exit 1; }
echo "rendered $page: $out.png ($(stat -c %s "$out.png") bytes), $out.pdf ($pages A4 pages)"
