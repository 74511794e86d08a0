#!/bin/bash
# Instructions of one sequential cpu_python run (8 tasks), hand-written script vs coresweep,
# counted by callgrind (immune to timing noise). README "Fidelity", 1.
# Each timed run lies between two perf_counter calls, so callgrind dumps its counts there.
#   bash benchmarks/probes/callgrind_sequential.sh [OUT_DIR]
set -euo pipefail
out=${1:-/tmp/coresweep-callgrind}
rm -rf "$out"; mkdir -p "$out/script" "$out/harness"
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864
valgrind --tool=callgrind --dump-before=time_perf_counter --callgrind-out-file="$out/script/cg.out" \
  python -m benchmarks.fidelity --script-only cpu_python --backends sequential --repeats 3 \
  --size 8 --grain 20000 > /dev/null 2>&1
valgrind --tool=callgrind --dump-before=time_perf_counter_ns --callgrind-out-file="$out/harness/cg.out" \
  python -m coresweep.experiments.cli -m backend=sequential workload=cpu_python workload.size=8 \
  workload.grain=20000 repeats=3 warmup=1 min_time_s=0 report=false "hydra.sweep.dir=$out/sweep" \
  > /dev/null 2>&1
# Dumps of about 0.3 G instructions are whole runs (the harness reads its clock elsewhere too).
for side in script harness; do
  echo "$side: instructions per run, and in _PyObject_Free:"
  for f in "$out/$side"/cg.out.*; do
    n=$(grep '^summary:' "$f" | cut -d' ' -f2)
    if [ "$n" -gt 200000000 ] && [ "$n" -lt 400000000 ]; then
      free=$(callgrind_annotate --threshold=100 --auto=no "$f" 2>/dev/null | grep 'obmalloc.c:_PyObject_Free' | awk '{print $1}')
      echo "  $n  $free"
    fi
  done
done
