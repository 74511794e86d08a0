#!/usr/bin/env bash
# A second machine's folders for examples/ (issue 17, item 4): the default sweep,
# +experiment=folklore and +experiment=strong_scaling, each under a time limit, on a machine
# that may have no network. Time on such a machine is scarce, so everything that can be done
# beforehand is: build the wheels here (with the network), carry them, and run this there.
#
#   here:   bash benchmarks/second_machine.sh wheels        # pip wheel . into wheels/ (+ deps)
#   there:  bash benchmarks/second_machine.sh run NAME [LIMIT_S]
#           -> examples/NAME-default, examples/NAME-folklore, examples/NAME-strong_scaling
#
# The carried files must stay small (64 MiB), so only what the runner needs is carried:
# coresweep's wheel and the runner's dependencies for THIS machine's Python (the other machine
# needs the same minor version); pandas, matplotlib, scipy and seaborn stay here, and so does
# the report: the sweeps run with report=false, and analysis reads only their files.
# "run" installs from wheels/ only (--no-index), runs the three sweeps one after another, each
# stopped after LIMIT_S seconds (default 240; a stopped sweep keeps its rows, resume= finishes
# it) and removes logs, as committed examples hold rows and records only. Then, here:
#   coresweep-report examples/2core-vm-default examples/NAME-default -o /tmp/compare
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  wheels)
    python3 -m pip wheel --quiet --no-deps . -w wheels
    # the runner's dependencies and theirs (hydra's antlr runtime is built from its sdist)
    python3 -m pip wheel --quiet -w wheels numpy "hydra-core>=1.3,<1.4" joblib psutil threadpoolctl rich
    echo "wheels/: $(ls wheels | wc -l) wheels, $(du -sh wheels | cut -f1); python $(python3 -V)"
    ;;
  run)
    name=${2:?usage: second_machine.sh run NAME [LIMIT_S]}
    limit=${3:-240}
    [ -d wheels ] || { echo "second_machine.sh: no wheels/ here; build them with: $0 wheels" >&2; exit 2; }
    python3 -m venv .venv-second
    . .venv-second/bin/activate
    pip install --quiet --no-index --no-deps wheels/*.whl
    status=0
    for what in default folklore strong_scaling; do
      args=()
      [ "$what" = default ] || args=("+experiment=$what")
      out="examples/$name-$what"
      echo "== $out (limit ${limit}s)" >&2
      timeout --signal=INT --kill-after=30 "$limit" \
        coresweep "${args[@]}" report=false "machine=$name" "hydra.sweep.dir=$out" || status=$?
      find "$out" -name '*.log' -delete
    done
    exit "$status"
    ;;
  *)
    echo "usage: $0 wheels | run NAME [LIMIT_S]" >&2
    exit 2
    ;;
esac
