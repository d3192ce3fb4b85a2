#!/usr/bin/env bash
# Resumes the MobileNetV2 (nsfwjs-initialised) fine-tuning on folds 2–5 (fold 1 held out) from the
# checkpoint committed in checkpoints/mnv2-f1, in a run folder outside the repository.
#   bash scripts/resume_mnv2_fold1.sh [RUN_DIR] [MAX_MINUTES]
# Then commit RUN_DIR/checkpoint back into checkpoints/mnv2-f1 (see checkpoints/mnv2-f1/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-/work/runs/mnv2-f1}
MINUTES=${2:-90}
mkdir -p "$RUN"
if [ ! -f "$RUN/checkpoint/state.json" ]; then
  rm -rf "$RUN/checkpoint"
  cp -r checkpoints/mnv2-f1 "$RUN/checkpoint"
  rm -f "$RUN/checkpoint/README.md"
fi
npm run build >/dev/null
exec nice -n 15 node bin/dermstream.js train --data ../shared/data/isic2017-train --config edge-mnv2 --out "$RUN" \
  --epochs 12 --batch 8 --lr 5e-4 --workers 2 --folds data-splits/isic2017-train-5fold.json --fold 1 \
  --malignant-fraction 0.5 --max-minutes "$MINUTES" --checkpoint-minutes 10 --resume
