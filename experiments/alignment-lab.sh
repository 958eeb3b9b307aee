#!/usr/bin/env bash
# Train general and medical LoRA safety adapters at two strengths into the cache, then run them all
# against the reference: `experiments/alignment-lab.sh` (LIMIT=N for a quick look, RETRAIN=1 to retrain).
set -euo pipefail
cd "$(dirname "$0")/.."
ALTAX=${ALTAX:-altax}
CACHE=${ALTAX_CACHE_DIR:-$(python -c "from alignment_tax.models.builtin import cache_root; print(cache_root())")}
DATA=src/alignment_tax/lab/data
COMMON=(--steps "${STEPS:-60}" --lr 1e-3 --rank 8 --alpha 16 --target-modules q_proj,k_proj,v_proj,o_proj
        --batch-size 8 --max-length 128 --seed 0)

train() {  # train NAME [altax align options...], unless it is already in the cache
  local name=$1
  shift
  if [[ -n "${RETRAIN:-}" || ! -f "$CACHE/adapters/$name/altax-align.json" ]]; then
    "$ALTAX" align builtin:smollm2-135m-instruct "$@" --out "$CACHE/adapters/$name" "${COMMON[@]}"
  fi
}

train lab-general-light --data "$DATA/general.jsonl" --refusal-share 0.25
train lab-general-strong --data "$DATA/general.jsonl" --refusal-share 0.6
train lab-medical-light --data "$DATA/general.jsonl" --data "$DATA/medical.jsonl" --scope medical --refusal-share 0.25
train lab-medical-strong --data "$DATA/general.jsonl" --data "$DATA/medical.jsonl" --scope medical --refusal-share 0.6
"$ALTAX" run --config experiments/alignment-lab.toml ${LIMIT:+--limit "$LIMIT"}
