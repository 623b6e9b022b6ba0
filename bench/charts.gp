# charts.gp -- draw one benchmark chart as OUT.png and OUT.svg.
#
# bench/charts.py runs `gnuplot OUT.vars.gp bench/charts.gp`; the first file
# sets the variables used here:
#
#   datafile, out     the data (one row per bar) and the output path, no suffix
#   title, subtitle   the chart's title lines; ylabel
#   nmodes, modes     how many modes, and their names in bar order
#   colors            one colour per mode, same order
#   modecol           data column of the mode's index (0-based); column 1 is
#                     the bar's x, column 2 its height
#   statuscol         data column of the status (ok, n/a, FAILED, skipped):
#                     a bar that is not ok is drawn as its status, in grey
#   ngroups, xtics    how many groups of bars, and "(\"label\" x, ...)"
#   boxw, width       bar width (x units) and picture width (pixels)
#   labelcol          data column of the text above a bar
#   logscale, ymin, ymax, refline (1: a dashed line at y = 1, the
#   normalised reference)

ttl(m) = (m eq "malloc") ? "glibc malloc" : m

set encoding utf8
set datafile separator "\t"   # the data files are tab-separated (labels hold spaces)
set terminal pngcairo size width,520 enhanced font "DejaVu Sans,10" background rgb "white"
set output out.".png"

set title title."\n".subtitle noenhanced
set ylabel ylabel
set style fill solid 0.85 border rgb "#404040"
set boxwidth boxw absolute
set xrange [-0.5 : ngroups - 0.5]
eval "set xtics ".xtics
set xtics nomirror scale 0
set ytics nomirror
set border 3
set grid ytics lc rgb "#d8d8d8"
# The key below the (two-line) x tic labels.
set bmargin 5.5
set key at screen 0.5, screen 0.012 center bottom horizontal noenhanced samplen 2 width 1
if (logscale) {
  set logscale y
  set format y "10^{%T}"
}
set yrange [ymin : ymax]
set style textbox opaque noborder margins 0.3,2
if (refline) {
  set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "#404040" back
}

plot for [j=1:nmodes] datafile \
       using 1:(column(modecol) == j - 1 ? column(2) : NaN) \
       with boxes lc rgb word(colors, j) title ttl(word(modes, j)), \
     datafile using 1:2:(strcol(labelcol)) \
       with labels rotate by 90 left offset 0,0.3 font ",8" boxed notitle, \
     datafile using 1:(ymin):(strcol(statuscol) eq "ok" ? "" : strcol(statuscol)) \
       with labels rotate by 90 left offset 0,0.3 font ",9" tc rgb "#606060" notitle

set terminal svg size width,520 dynamic enhanced font "DejaVu Sans,11" background rgb "white"
set output out.".svg"
replot
unset output
