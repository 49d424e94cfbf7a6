# Shared by the bench scripts (sourced, not run).

# The PSK of every TLS cell: both ends take it in the NVMe TLS PSK interchange format.
BENCH_TLS_KEY='NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:'

# per_io CSV IOPS SECONDS: the events of a `perf stat -x,` file as counts per I/O (task-clock as CPU µs per I/O).
per_io() {
  awk -F, -v n="$2" -v s="$3" '$1 ~ /^[0-9.]+$/ && $1 > 0 {
    sub("syscalls:sys_enter_", "", $3)
    if ($3 == "task-clock") printf " cpu_us=%.2f", $1 * 1000 / (n * s); else printf " %s=%.3f", $3, $1 / (n * s)
  }' "$1"
}
