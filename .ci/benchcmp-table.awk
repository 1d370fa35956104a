# The table .ci/benchcmp prints, from its results.tsv (revision, round,
# benchmark, metric, value a line). names: the benchmarks asked for, spaced;
# one asked for and measured in neither revision gets a row of "—".
BEGIN { FS = "\t" }
{
  key = $3 SUBSEP $4
  if (!(key in seen)) { seen[key] = 1; order[++rows] = key; top = $3; sub(/[\/ ].*/, "", top); found[top] = 1 }
  v[$1, key, ++cnt[$1, key]] = $5 + 0
}
# stats sets med, lo, hi over revision r's values of key; false if none.
function stats(r, key,   n, i, j, x, a) {
  n = cnt[r, key]
  if (n == 0) return 0
  for (i = 1; i <= n; i++) {
    x = v[r, key, i]
    for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
    a[j + 1] = x
  }
  lo = a[1]; hi = a[n]
  med = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  return 1
}
function num(x,   ax) {
  ax = x < 0 ? -x : x
  if (ax >= 1000) return sprintf("%.0f", x)
  if (ax >= 100) return sprintf("%.1f", x)
  if (ax >= 1) return sprintf("%.3f", x)
  return sprintf("%.4f", x)
}
function line(name, metric, bm, br, hm, hr, ratio, mark) {
  printf "%-46s %-20s %10s %-21s %10s %-21s %7s %s\n", name, metric, bm, br, hm, hr, ratio, mark
}
END {
  line("benchmark", "metric", "BASE med", "(min–max)", "HEAD med", "(min–max)", "H/B", "")
  for (i = 1; i <= rows; i++) {
    key = order[i]; split(key, parts, SUBSEP)
    hb = stats("base", key); bm = med; bl = lo; bh = hi
    hh = stats("head", key); hm = med; hl = lo; hhi = hi
    # Figures a benchmark reports as 0 on purpose (ns/op of paced ones) say nothing.
    if ((!hb || (bl == 0 && bh == 0)) && (!hh || (hl == 0 && hhi == 0))) continue
    ratio = hb && hh && bm != 0 ? sprintf("%.3f", hm / bm) : "—"
    # Disjoint ranges of n and n values: chance 2/C(2n,n), 1 in 10 at n = 3.
    mark = cnt["base", key] >= 3 && cnt["head", key] >= 3 && (hl > bh || hhi < bl) ? "≠" : ""
    line(parts[1], parts[2], hb ? num(bm) : "—", hb ? "(" num(bl) "–" num(bh) ")" : "",
      hh ? num(hm) : "—", hh ? "(" num(hl) "–" num(hhi) ")" : "", ratio, mark)
  }
  n = split(names, want, " ")
  for (i = 1; i <= n; i++) if (!(want[i] in found)) line(want[i], "—", "—", "", "—", "", "—", "")
}
