#!/usr/bin/env bash
# Resumes the 5-fold cross-validation of the MobileNetV2 backbone (preset edge-mnv2) from what is committed in
# checkpoints/cv-mnv2: folds with an eval.json are done (their scores are kept), a fold with a checkpoint/ is
# continued, the rest start fresh. Runs in a folder outside the repository.
#   bash scripts/resume_cv_mnv2.sh [RUN_DIR] [MAX_MINUTES]
# Afterwards commit back what changed (see checkpoints/cv-mnv2/README.md): new eval.json files, and the
# checkpoint/ of the fold in progress (without its cache/).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-/work/runs/cv-mnv2}
MINUTES=${2:-90}
mkdir -p "$RUN"
for src in checkpoints/cv-mnv2/fold-*; do
  [ -d "$src" ] || continue
  dst="$RUN/$(basename "$src")"
  mkdir -p "$dst"
  [ -f "$src/eval.json" ] && [ ! -f "$dst/eval.json" ] && cp "$src/eval.json" "$dst/eval.json"
  if [ -d "$src/checkpoint" ] && [ ! -f "$dst/checkpoint/state.json" ]; then
    rm -rf "$dst/checkpoint"
    cp -r "$src/checkpoint" "$dst/checkpoint"
  fi
done
npm run build >/dev/null
exec nice -n 15 node bin/dermstream.js cv --data ../shared/data/isic2017-train --folds data-splits/isic2017-train-5fold.json \
  --out "$RUN" --config edge-mnv2 --epochs 12 --batch 8 --lr 5e-4 --workers 2 --malignant-fraction 0.5 \
  --max-minutes "$MINUTES" --checkpoint-minutes 10
