set terminal pngcairo size 1600,1040 font "DejaVu Sans,11"
set output "bench/results/json/chart.png"
set termoption noenhanced
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "%.0f"
set grid ytics mytics
set ylabel "transactions (ops) per second, log scale"
set xtics rotate by -35 scale 0 font ",10"
set key top right
set multiplot layout 2,1 title "pylibmc_pg vs pgmemcache vs raw libmemcached (median TPS; floor = SELECT 1 / UPDATE without trigger)"
set title "1 client"
plot "bench/results/json/chart.dat" index 0 using 2:xtic(1) title "pylibmc_pg" lc rgb "#1f77b4", "" index 0 using 3 title "pgmemcache" lc rgb "#ff7f0e", "" index 0 using 4 title "raw libmemcached" lc rgb "#2ca02c", "" index 0 using 5 title "SQL floor" lc rgb "#7f7f7f"
set title "2 clients"
plot "bench/results/json/chart.dat" index 1 using 2:xtic(1) title "pylibmc_pg" lc rgb "#1f77b4", "" index 1 using 3 title "pgmemcache" lc rgb "#ff7f0e", "" index 1 using 4 title "raw libmemcached" lc rgb "#2ca02c", "" index 1 using 5 title "SQL floor" lc rgb "#7f7f7f"
unset multiplot
