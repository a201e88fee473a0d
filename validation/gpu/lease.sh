#!/usr/bin/env bash
# One GPU lease, as run on the lent H200 (16 cores): the paper-size Burgers and Darcy suite,
# then the FNO timing matrix against neuraloperator on the GPU. Needs the wheels of the
# packages the machine lacks in .whl/ (pdeml's: rocket-fft, pyamg, h5netcdf, dask,
# distributed and theirs; neuraloperator, tensorly, tensorly-torch for the benchmark) and
# writes everything worth keeping under $OUT. Each stage has its own time limit so that a
# slow stage cannot take the others' results with it.
#
#   PDEML_COMMIT=<commit> OUT=<folder> bash validation/gpu/lease.sh
set -u
OUT=${OUT:?set OUT to a folder}
SUITE_SECONDS=${SUITE_SECONDS:-320}
MATRIX_SECONDS=${MATRIX_SECONDS:-100}
COMPILE_SECONDS=${COMPILE_SECONDS:-140}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
{
    nvidia-smi -L
    nproc
    python3 -c "import torch, numba, numpy; print('torch', torch.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name())"
} >"$OUT/env.txt" 2>&1

start=$(date +%s)
timeout "$SUITE_SECONDS" python3 -m pdeml.cli validate validation/suites/paper_burgers_darcy.toml \
    --out /tmp/paper --workers 3 --quiet >"$OUT/suite.log" 2>&1
echo "suite exit $? after $(($(date +%s) - start)) s" >>"$OUT/suite.log"
tar czf "$OUT/paper.tgz" --exclude='*.pt' -C /tmp paper

start=$(date +%s)
timeout "$MATRIX_SECONDS" python3 validation/benchmarks/fno_vs_neuraloperator.py --matrix \
    --device cuda --grids 43,85,141 --grids1d 1024,8192 --batch 20,64 --threads 1 \
    --precision fp32,bf16 --repeats 3 --log "$OUT/matrix.jsonl" --write >"$OUT/matrix.log" 2>&1
echo "matrix exit $? after $(($(date +%s) - start)) s" >>"$OUT/matrix.log"
cp validation/reports/fno_matrix_gpu.md "$OUT/" 2>/dev/null

start=$(date +%s)
timeout "$COMPILE_SECONDS" python3 validation/benchmarks/fno_vs_neuraloperator.py --matrix \
    --device cuda --grids 85 --grids1d "" --batch 20 --threads 1 --precision fp32,bf16 \
    --compile on --repeats 3 --log "$OUT/compiled.jsonl" >"$OUT/compiled.log" 2>&1
echo "compiled exit $? after $(($(date +%s) - start)) s" >>"$OUT/compiled.log"
ls -la "$OUT"
