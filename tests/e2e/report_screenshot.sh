#!/usr/bin/env bash
# Renders an evidence report (common/evidence/evidence_report.h) in headless
# Chromium and checks that a person would see the verdict: the rendered DOM's
# first <h1> names the verdict, and the screenshot is a real PNG as wide as
# the window (1280 px). Keeps the PNG for a person (or a CI artifact) to look at.
#
#   report_screenshot.sh REPORT.html OUT.png [EXPECTED_VERDICT]
#
# EXPECTED_VERDICT is verified_complete, incomplete or discrepancy; without it
# any of the three will do. CHROMIUM names another browser binary. Exits 0
# when every check passes, 77 (skipped) when Chromium is not installed, and 1
# with a message naming the failed check otherwise. The browser profile lives
# in a temporary directory removed on exit.
set -uo pipefail

usage="usage: report_screenshot.sh REPORT.html OUT.png [EXPECTED_VERDICT]"
report=${1:?$usage}
out=${2:?$usage}
expected=${3:-}
width=1280
height=1600

die() { echo "FAIL: $*" >&2; exit 1; }

browser=${CHROMIUM:-}
if [[ -z $browser ]]; then
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then browser=$(command -v "$candidate"); break; fi
  done
fi
if [[ -z $browser || ! -x $browser ]]; then
  echo "SKIP: Chromium is not installed (apt-get install chromium, or set CHROMIUM)" >&2
  exit 77
fi

[[ -f $report && -r $report ]] || die "no readable report at $report"
report=$(realpath "$report")
case $expected in
  "" | verified_complete | incomplete | discrepancy) ;;
  *) die "unknown EXPECTED_VERDICT '$expected' (verified_complete, incomplete, discrepancy)" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The file is passed as a URL; percent-encode the characters that would end or
# change it.
url="file://$(printf '%s' "$report" | sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's/#/%23/g' -e 's/?/%3F/g')"

chrome() {
  # --no-sandbox: CI containers often run as root, where the sandbox refuses to start.
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --no-first-run --no-default-browser-check --disable-extensions \
    --user-data-dir="$work/profile" --window-size="$width,$height" "$@" "$url"
}

# 1. The verdict, as the browser parsed the page (not as the bytes read).
if ! chrome --dump-dom >"$work/dom.html" 2>"$work/dump.log"; then
  cat "$work/dump.log" >&2
  die "chromium --dump-dom failed on $report"
fi
h1=$(tr '\n' ' ' <"$work/dom.html" | grep -o -i '<h1[^>]*>[^<]*</h1>' | head -n 1 |
  sed -e 's/<[^>]*>//g')
[[ -n $h1 ]] || die "the rendered page has no <h1> (plain text) in $report"
word=${expected//_/ }
if [[ -n $word ]]; then
  grep -qiFx -- "$word" <<<"$h1" || die "first <h1> is '$h1', expected '$word'"
else
  grep -qiEx -- 'verified complete|incomplete|discrepancy' <<<"$h1" ||
    die "first <h1> is '$h1', which names no verdict"
fi
echo "ok: first <h1> names the verdict: $h1"

# 2. The screenshot.
rm -f "$out"
mkdir -p "$(dirname "$out")"
out=$(realpath -m "$out")
if ! chrome --screenshot="$out" >"$work/shot.log" 2>&1; then
  cat "$work/shot.log" >&2
  die "chromium --screenshot failed on $report"
fi
[[ -s $out ]] || { cat "$work/shot.log" >&2; die "no screenshot written at $out"; }
signature=$(od -A n -t x1 -N 8 "$out" | tr -d ' \n')
[[ $signature == 89504e470d0a1a0a ]] || die "$out is not a PNG (starts with $signature)"
# IHDR is the first chunk: width and height are big-endian at bytes 16 and 20.
png_width=$((16#$(od -A n -t x1 -j 16 -N 4 "$out" | tr -d ' \n')))
png_height=$((16#$(od -A n -t x1 -j 20 -N 4 "$out" | tr -d ' \n')))
[[ $png_width -eq $width ]] || die "$out is $png_width px wide, expected $width"
echo "ok: $out is a ${png_width}x${png_height} PNG"
