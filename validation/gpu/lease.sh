#!/usr/bin/env bash
# One GPU lease, as run on the lent H200 (16 cores): the paper-size Burgers and Darcy suite,
# a profile of one FNO training step of each package, then the FNO timing matrix against
# neuraloperator on the GPU. Writes everything worth keeping under $OUT.
#
# Carried to the machine (it reaches no package index): the wheels of the packages it lacks
# in .whl/ (pdeml's: rocket-fft, pyamg, h5netcdf, dask, distributed and theirs;
# neuraloperator, tensorly, tensorly-torch for the benchmarks) and the suite's two datasets,
# generated here beforehand and gzip-compressed to fit the 64 MiB that travels
# (validation/gpu/compress_dataset.py; same samples, same attributes):
#
#   data/suites/burgers_6aa55072cd.h5, data/suites/darcy_82384d3815.h5
#
# The first lease (2026-12-04, 4880be4) spent its whole suite stage generating the data;
# the second (ad35826) finished three of the four entries side by side (--workers 4) but
# not the Darcy FNO's 500 epochs (> 270 s alone on the H200). Each stage has its own time
# limit so that a slow stage cannot take the others' results with it.
#
#   PDEML_COMMIT=<commit> OUT=<folder> bash validation/gpu/lease.sh
set -u
OUT=${OUT:?set OUT to a folder}
SUITE_SECONDS=${SUITE_SECONDS:-400}
SUITE_WORKERS=${SUITE_WORKERS:-1}
PROFILE_SECONDS=${PROFILE_SECONDS:-45}
MATRIX_SECONDS=${MATRIX_SECONDS:-120}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
{
    nvidia-smi -L
    nproc
    python3 -c "import torch, numba, numpy; print('torch', torch.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name())"
} >"$OUT/env.txt" 2>&1

# The entries a previous lease finished (same fingerprints) are reused, not run again; a
# training cut short by a stage's limit resumes from its checkpoint (runs/paper_suite/
# training) in the next call while the machine is still warm.
mkdir -p runs/paper_suite/entries
cp -n validation/reports/paper_suite_partial/entries/* runs/paper_suite/entries/ 2>/dev/null
start=$(date +%s)
timeout "$SUITE_SECONDS" python3 -m pdeml.cli validate validation/suites/paper_burgers_darcy.toml \
    --out runs/paper_suite --workers "$SUITE_WORKERS" --quiet >"$OUT/suite.log" 2>&1
echo "suite exit $? after $(($(date +%s) - start)) s" >>"$OUT/suite.log"
tar czf "$OUT/paper.tgz" --exclude='*.pt' runs/paper_suite

start=$(date +%s)
for cell in "--dims 2 --grid 85 --batch 20" "--dims 1 --grid 8192 --batch 64"; do
    # shellcheck disable=SC2086  # the cell's flags are meant to split
    timeout "$PROFILE_SECONDS" python3 validation/benchmarks/fno_step_profile.py $cell --top
done >"$OUT/profile.log" 2>&1
echo "profile exit $? after $(($(date +%s) - start)) s" >>"$OUT/profile.log"

start=$(date +%s)
timeout "$MATRIX_SECONDS" python3 validation/benchmarks/fno_vs_neuraloperator.py --matrix \
    --device cuda --grids 43,85,141 --grids1d 1024,8192 --batch 20,64 --threads 1 \
    --precision fp32,bf16 --repeats 3 --log "$OUT/matrix.jsonl" >"$OUT/matrix.log" 2>&1
echo "matrix exit $? after $(($(date +%s) - start)) s" >>"$OUT/matrix.log"
ls -la "$OUT"
