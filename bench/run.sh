#!/usr/bin/env bash
# run.sh runs rptguard's end-to-end benchmarks (package bench) and prints a
# summary table: the median ns/op and allocs/op of each rptguard/baseline
# pair and the ratio baseline ÷ rptguard (above 1: rptguard is faster).
#
# Usage: bench/run.sh [-count N] [-benchtime D] [-bench REGEXP] [-o FILE]
#   -count      runs per benchmark (default 5)
#   -benchtime  per run (default 200ms; keep it short on a shared machine)
#   -bench      benchmark regexp (default: all of them)
#   -o          keep the raw `go test` output in FILE (default: a temp file)
#   -benchstat  also print benchstat's table (go run golang.org/x/perf/cmd/benchstat@latest)
#
# The ratio targets (DESIGN.md "Targets"): warm ≥ 8× (p5) and ≥ 15× (p50),
# cold ≥ 1.0×, parallel warm as warm. A pair with a third sub-benchmark
# "prebuilt" (BenchmarkDecisionUserPolicy/warm) gets an extra line: the
# prebuilt floor's time and rptguard ÷ floor (target ≤ 1.3×).
set -euo pipefail

count=5
benchtime=200ms
bench=.
out=""
benchstat=0
while [ $# -gt 0 ]; do
	case "$1" in
	-count) count=$2; shift 2 ;;
	-benchtime) benchtime=$2; shift 2 ;;
	-bench) bench=$2; shift 2 ;;
	-o) out=$2; shift 2 ;;
	-benchstat) benchstat=1; shift ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$out" ]; then
	out=$(mktemp "${TMPDIR:-/tmp}/rptguard-bench.XXXXXX")
fi

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(go version | cut -d' ' -f3-)  GOMAXPROCS=${GOMAXPROCS:-$(nproc)}  load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo "# go test -run '^\$' -bench '$bench' -benchtime $benchtime -count $count ./bench  (raw output: $out)"
(cd "$root" && go test -run '^$' -bench "$bench" -benchtime "$benchtime" -count "$count" -benchmem ./bench) >"$out"
grep -q '^ok' "$out" || { cat "$out" >&2; exit 1; }

awk '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function human(ns) {
	if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
	if (ns >= 1e3) return sprintf("%.1f µs", ns / 1e3)
	return sprintf("%.0f ns", ns)
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	side = name; sub(/.*\//, "", side)
	if (side != "rptguard" && side != "baseline" && side != "prebuilt") next
	pair = substr(name, 1, length(name) - length(side) - 1)
	for (i = 3; i < NF; i++) {
		if ($(i + 1) == "ns/op") ns[pair, side] = ns[pair, side] " " $i
		if ($(i + 1) == "allocs/op") al[pair, side] = al[pair, side] " " $i
	}
	if (!(pair in seen)) { seen[pair] = 1; order[++n] = pair }
}
END {
	printf "%-40s %12s %12s %9s %10s %10s\n", "benchmark", "rptguard", "baseline", "ratio", "allocs rg", "allocs bl"
	for (k = 1; k <= n; k++) {
		p = order[k]
		if (ns[p, "rptguard"] == "" || ns[p, "baseline"] == "") continue
		r = median(ns[p, "rptguard"]); b = median(ns[p, "baseline"])
		printf "%-40s %12s %12s %8.2fx %10d %10d\n", p, human(r), human(b), b / r, median(al[p, "rptguard"]), median(al[p, "baseline"])
		if (ns[p, "prebuilt"] != "") {
			x = median(ns[p, "prebuilt"])
			printf "%-40s %12s %12s %8.2fx %10s %10d\n", "  " p " (prebuilt Rego floor)", "", human(x), r / x, "rg÷floor", median(al[p, "prebuilt"])
		}
	}
}' "$out"

if [ "$benchstat" = 1 ]; then
	(cd "$root" && go run golang.org/x/perf/cmd/benchstat@latest "$out")
fi
