#!/usr/bin/env bash
# The issue's GPU table: W2, W4, W5 and W6, nncompile against the reference programs that run on
# the machine at hand, interleaved, fresh process per run (bench/run.py), written to $OUT.
#
#   OUT=/tmp/out bash bench/gpu_table.sh            # on the GPU machine: ~5 minutes on an H200
#   OUT=/tmp/out bash bench/gpu_table.sh --smoke    # anywhere: 1 repetition, 2 epochs (a check)
#   (WORKLOADS=W5,W6 and ONLY=<contenders> narrow it; REPS, DEADLINE_S, PYTHON as below;
#    SCALE=1 adds bench/scale.py's 1-GPU row of W1 and W2 to $OUT/scale_gpu.md)
#
# Runs from the repository root with nncompile on PYTHONPATH (no pip install of nncompile). It
# needs, for the Python it runs (python3, or $PYTHON):
#   jax, flax, optax (and orbax) -- present on the lent GPU machine;
#   lark, pydantic, rich, scikit-learn (+ joblib, threadpoolctl) -- carry their wheels in a folder
#     and set NNCOMPILE_WHEELS=that/folder: they are installed (--no-deps, offline) into a
#     temporary folder put on PYTHONPATH. scikit-learn gives W2's and W6's digits.
#   the reference programs of ../shared/bench (benchcommon.py, a_flax_nnx.py, c_jax_scan.py,
#     e_torch.py): NNCOMPILE_BENCH_REFS, else bench/.refs (git-ignored: copy them there and carry
#     it), else ../shared/bench. Contenders whose packages are missing are skipped and listed.
# PyTorch's reference is CPU-only (e_torch.py never moves to a GPU): its row is PyTorch on the
# host's CPU cores, listed for scale, not a GPU contender. Keras is not on the machine: no row.
# A deadline (DEADLINE_S, default 230 s of runs) stops starting runs; the table holds what
# finished: every workload's first repetition runs before any second one. Then bench/recurrent.py
# times the LSTM forms on one W5 epoch (Flax's cell as emitted before; the fused layer as emitted,
# each step projecting its input, with scan unroll 1 and 8; the fused layer projecting every step's
# input before the loop) into recurrent_lstm.txt/.json (at most 75 s).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/bench/results/gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
if [ -n "${NNCOMPILE_WHEELS:-}" ]; then
  DEPS=$(mktemp -d)
  "$PY" -m pip install --quiet --no-index --no-deps --target "$DEPS" "$NNCOMPILE_WHEELS"/*.whl \
    >"$OUT/wheels.log" 2>&1 || echo "wheel install failed: see $OUT/wheels.log"
  export PYTHONPATH=$PYTHONPATH:$DEPS
fi
if [ -z "${NNCOMPILE_BENCH_REFS:-}" ]; then
  for d in "$ROOT/bench/.refs" "$ROOT/../shared/bench"; do
    [ -f "$d/benchcommon.py" ] && export NNCOMPILE_BENCH_REFS=$(cd "$d" && pwd) && break
  done
fi
export NNCOMPILE_BENCH_PYTHON=${NNCOMPILE_BENCH_PYTHON:-$(command -v "$PY")}

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PY" - <<'EOF'
import importlib, sys
print("python", sys.version.split()[0])
for m in ("jax", "jaxlib", "flax", "optax", "torch", "sklearn", "lark", "pydantic", "rich", "nncompile"):
    try:
        print(m, getattr(importlib.import_module(m), "__version__", "?"))
    except Exception as e:  # noqa: BLE001
        print(m, "MISSING", type(e).__name__, e)
try:
    import jax
    print("jax devices", jax.devices())
except Exception as e:  # noqa: BLE001
    print("jax devices: error", e)
EOF
  echo "refs: ${NNCOMPILE_BENCH_REFS:-none found}"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

ONLY=${ONLY:-nncompile:api,nncompile:api-step,a_flax_nnx:jit,c_jax_scan:scan,c_jax_scan:step,e_torch:eager}
WORKLOADS=${WORKLOADS:-W2,W4,W5,W6}
if [ $SMOKE = 1 ]; then
  ARGS=(--reps 1 --epochs 2)
else
  ARGS=(--reps "${REPS:-2}" --deadline "${DEADLINE_S:-230}")
fi
"$PY" bench/run.py --workloads "$WORKLOADS" --only "$ONLY" "${ARGS[@]}" \
  --timeout 240 --out "$OUT/gpu.jsonl" >"$OUT/gpu_table.txt" 2>"$OUT/run.log"
rc=$?
"$PY" bench/run.py --table "$OUT/gpu.jsonl" --md >"$OUT/gpu_table.md" 2>>"$OUT/run.log"
tail -n 40 "$OUT/run.log"
cat "$OUT/gpu_table.txt"
if [ $SMOKE = 1 ]; then
  RARGS=(--reps 1 --epochs 2 --forms flax,step-u1)
else
  RARGS=(--reps 2 --epochs 5 --forms flax,step-u1,fused-u1,step-u8)
fi
timeout 75 "$PY" bench/recurrent.py "${RARGS[@]}" >"$OUT/recurrent_lstm.json" 2>"$OUT/recurrent_lstm.txt"
cat "$OUT/recurrent_lstm.txt"
if [ "${SCALE:-0}" = 1 ]; then  # the 1-GPU row of bench/scale.py (W1, W2)
  SC=(--platform gpu --devices 1 --reps 1 --epochs 4 --timeout 90)
  [ $SMOKE = 1 ] && SC=(--platform cpu --devices 1 --reps 1 --epochs 2 --workloads W1)
  timeout 200 "$PY" bench/scale.py "${SC[@]}" --md "$OUT/scale_gpu.md" 2>"$OUT/scale.log"
  tail -n 30 "$OUT/scale.log"
fi
exit $rc
