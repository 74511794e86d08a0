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
# "run" installs from wheels/ only (--no-index), runs the three sweeps one after another, each
# killed after LIMIT_S seconds (default 240; a killed sweep keeps its rows and is resumable),
# and removes the report/ folders and logs, as committed examples hold rows and records only.
# Then, here: coresweep-report examples/2core-vm-default examples/NAME-default -o /tmp/compare
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  wheels)
    python3 -m pip wheel --quiet . -w wheels
    echo "wheels/: $(ls wheels | wc -l) wheels; carry wheels/ and this script to the other machine"
    ;;
  run)
    name=${2:?usage: second_machine.sh run NAME [LIMIT_S]}
    limit=${3:-240}
    [ -d wheels ] || { echo "second_machine.sh: no wheels/ here; build them with: $0 wheels" >&2; exit 2; }
    python3 -m venv .venv-second
    . .venv-second/bin/activate
    pip install --quiet --no-index --find-links wheels coresweep
    status=0
    for what in default folklore strong_scaling; do
      args=()
      [ "$what" = default ] || args=("+experiment=$what")
      out="examples/$name-$what"
      echo "== $out (limit ${limit}s)" >&2
      timeout --signal=INT --kill-after=30 "$limit" \
        coresweep "${args[@]}" "machine=$name" "hydra.sweep.dir=$out" || status=$?
      rm -rf "$out/report"
      find "$out" -name '*.log' -delete
    done
    exit "$status"
    ;;
  *)
    echo "usage: $0 wheels | run NAME [LIMIT_S]" >&2
    exit 2
    ;;
esac
