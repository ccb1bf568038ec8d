# Shared by the end-to-end tests that run a real controller on loopback.
# Source it after setting: controller (binary), work (temporary directory),
# C (the controller's data directory under it). It provides:
#   ok MSG / fail MSG (counts $failures) / die MSG (exits 1)
#   init_controller       offboard-controller init; sets $ca
#   start_controller [PORT]   serves on 127.0.0.1 (a free port by default);
#                         sets $serve_pid and $port
#   stop_controller       SIGTERM, and waits
#   token VENDOR HOST     a fresh enrollment token
#   explain FILE...       what to show of a failed command's output: the
#                         sanitizer report from its first line when there is
#                         one, else the last lines
# The caller's trap must kill $serve_pid.
failures=0
serve_pid=""
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
explain() {
  local report
  report=$(cat "$@" 2>/dev/null | grep -v 'audit event=' |
    sed -n '/ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:\|WARNING: ThreadSanitizer/,$p' | head -60)
  if [[ -n $report ]]; then printf '%s' "$report"; else cat "$@" 2>/dev/null | tail -5; fi
}

init_controller() {
  "$controller" init --data-dir "$C" --hostname 127.0.0.1 --hostname localhost >"$work/init.out" 2>&1 ||
    die "controller init: $(cat "$work/init.out")"
  ca="$C/ca/ca.pem"
  [[ -f "$ca" ]] || die "no CA at $ca: $(cat "$work/init.out")"
}

start_controller() {  # start_controller [PORT]
  : >"$work/serve.out"
  "$controller" serve --data-dir "$C" --listen "127.0.0.1:${1:-0}" >"$work/serve.out" 2>>"$work/serve.err" &
  serve_pid=$!
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^serving on port \([0-9][0-9]*\).*/\1/p' "$work/serve.out")
    [[ -n "$port" ]] && return 0
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  die "controller did not start: $(cat "$work/serve.err")"
}

stop_controller() {
  kill "$serve_pid" 2>/dev/null
  wait "$serve_pid" 2>/dev/null
  serve_pid=""
}

token() { "$controller" token --data-dir "$C" --vendor "$1" --host "$2" 2>>"$work/token.err" | tail -1; }
