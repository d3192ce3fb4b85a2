#!/usr/bin/env bash
# Turns a finished training run into the shipped default model and the numbers the README quotes:
# native-resolution evaluation of the float model on the run's own validation split, the uint8 and
# float16 copies with their metric change, the same weights at input 128/160/192 (speed/accuracy table),
# and the network benchmark. The operating point (threshold ± margin, with its SE/SP) is fitted on the same split
# and written into the manifest: the highest threshold that still flags 75 % of the split's melanomas (a screening
# aid should miss few), ± 0.03 voting "uncertain". The model shipped is the run's end-of-schedule `final/` (its
# `best/` only where there is no final: older runs), exported to ONNX and signed with the development key.
# RUN_DIR is a `train` run (split.json: its "val" list) or a `cv` fold (held-out-ids.json: the fold it never
# trained on, which is where calibration and the operating point are fitted — out of sample).
# Usage: bash scripts/ship_model.sh RUN_DIR VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:?usage: ship_model.sh RUN_DIR VERSION}
version=${2:?usage: ship_model.sh RUN_DIR VERSION}
data=${DATA:-../shared/data/isic2017-train}
# CV_SUMMARY: a `dermstream cv` cv-summary.json of
# this configuration, recorded in the manifest.
out=bench/results
mkdir -p "$out"
ds() { node bin/dermstream.js "$@"; }

src="$run/final"
[ -d "$src" ] || src="$run/best"
ids="$run/split.json"
[ -f "$ids" ] || ids="$run/held-out-ids.json"
[ -f "$ids" ] || { echo "ship_model.sh: $run has neither split.json (train) nor held-out-ids.json (cv fold): nothing to calibrate on" >&2; exit 2; }
history="$run/history.json"
[ -f "$history" ] || history="$src/history.json"

rm -rf models/default
# The ids calibration and the operating point are fitted on, beside the model (tests and `eval --ids` read them),
# and named by that repository path in the manifest rather than by a scratch folder of this machine.
mkdir -p models/default
cp "$ids" models/default/validation-split.json
ids=models/default/validation-split.json
ds quantize --model "$src" --out models/default --dtype uint8 --version "$version" \
  --max-detections 1 --score-threshold 0.5 --nms-iou 0.3 --calibrate --target-sensitivity 0.75 --margin 0.03 \
  --data "$data" --ids "$ids" --json "$out/quantize-uint8.json" ${CV_SUMMARY:+--cv-summary "$CV_SUMMARY"}
ds quantize --model "$src" --out "$run/float16" --dtype float16 --version "$version" \
  --max-detections 1 --score-threshold 0.5 --nms-iou 0.3 --calibrate --target-sensitivity 0.75 --margin 0.03 \
  --data "$data" --ids "$ids" --json "$out/quantize-float16.json"
ds export --format onnx --model models/default
cp "$history" models/default/training-history.json
if [ -f "$run/report.png" ]; then cp "$run/report.png" models/default/training-report.png
else HISTORY="$history" node --input-type=module -e "import { readFileSync } from 'node:fs'; import { renderReportPng } from './dist/src/model/report.js'; await renderReportPng(JSON.parse(readFileSync(process.env.HISTORY, 'utf8')), 'models/default/training-report.png');"
fi
for size in 128 192; do
  ds eval --model models/default --data "$data" --ids "$ids" --input-size "$size" --json "$out/eval-uint8-$size.json"
done
npm run sign:dev-model
node dist/bench/model.js --configs default --runs 20
