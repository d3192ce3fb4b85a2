import * as tf from '@tensorflow/tfjs-core';
import type { ResNetBackbone } from './config.js';
import { conv, declareConv, type Mode } from './layers.js';
import type { ParamStore } from './params.js';

interface StagePlan {
  blocks: number;
  width: number;
  stride: number;
}

export const BLOCKS: Record<number, number[]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3] };

export function isBottleneck(depth: number): boolean {
  return depth >= 50;
}

function plan(cfg: ResNetBackbone): { stem: number; stages: StagePlan[]; expansion: number } {
  const w = (c: number) => Math.max(8, Math.round(c * cfg.widthMultiplier));
  const blocks = BLOCKS[cfg.depth];
  return {
    stem: w(64),
    expansion: isBottleneck(cfg.depth) ? 4 : 1,
    stages: [64, 128, 256, 512].map((c, i) => ({ blocks: blocks[i], width: w(c), stride: i === 0 ? 1 : 2 })),
  };
}

/** Channels of C2..C5, what the FPN laterals take. */
export function backboneChannels(cfg: ResNetBackbone): number[] {
  const pl = plan(cfg);
  return pl.stages.map((s) => s.width * pl.expansion);
}

export function declareResNet(p: ParamStore, cfg: ResNetBackbone): void {
  const pl = plan(cfg);
  declareConv(p, 'backbone/stem', 7, 7, 3, pl.stem, { bn: true });
  let cin = pl.stem;
  pl.stages.forEach((st, si) => {
    for (let b = 0; b < st.blocks; b++) {
      const name = `backbone/c${si + 2}/b${b}`;
      const stride = b === 0 ? st.stride : 1;
      const cout = st.width * pl.expansion;
      if (pl.expansion === 1) {
        declareConv(p, `${name}/conv1`, 3, 3, cin, st.width, { bn: true });
        declareConv(p, `${name}/conv2`, 3, 3, st.width, cout, { bn: true });
      } else {
        declareConv(p, `${name}/conv1`, 1, 1, cin, st.width, { bn: true });
        declareConv(p, `${name}/conv2`, 3, 3, st.width, st.width, { bn: true });
        declareConv(p, `${name}/conv3`, 1, 1, st.width, cout, { bn: true });
      }
      if (stride !== 1 || cin !== cout) declareConv(p, `${name}/shortcut`, 1, 1, cin, cout, { bn: true });
      cin = cout;
    }
  });
  // Zero-init the last BN gamma of each residual branch ("Bag of Tricks"): every block starts as identity,
  // which is what lets a ResNet train from scratch in few epochs.
  for (const [name, v] of p.trainable) {
    if (/\/b\d+\/conv(2|3)\/bn\/gamma$/.test(name) && (pl.expansion === 1 ? name.includes('/conv2/') : name.includes('/conv3/'))) {
      v.assign(tf.zerosLike(v));
    }
  }
}

/** Returns [C2, C3, C4, C5] at strides 4, 8, 16, 32. */
export function resnet(p: ParamStore, mode: Mode, cfg: ResNetBackbone, x: tf.Tensor4D): tf.Tensor4D[] {
  const pl = plan(cfg);
  let h = conv(p, mode, 'backbone/stem', x, { stride: 2, inputGrad: false });
  h = tf.maxPool(h, 3, 2, 'same');
  const outs: tf.Tensor4D[] = [];
  pl.stages.forEach((st, si) => {
    for (let b = 0; b < st.blocks; b++) {
      const name = `backbone/c${si + 2}/b${b}`;
      const stride = b === 0 ? st.stride : 1;
      let r: tf.Tensor4D;
      if (pl.expansion === 1) {
        r = conv(p, mode, `${name}/conv1`, h, { stride });
        r = conv(p, mode, `${name}/conv2`, r, { act: 'linear' });
      } else {
        r = conv(p, mode, `${name}/conv1`, h);
        r = conv(p, mode, `${name}/conv2`, r, { stride });
        r = conv(p, mode, `${name}/conv3`, r, { act: 'linear' });
      }
      const s = p.has(`${name}/shortcut/kernel`) ? conv(p, mode, `${name}/shortcut`, h, { stride, act: 'linear' }) : h;
      h = tf.relu(tf.add(r, s)) as tf.Tensor4D;
    }
    outs.push(h);
  });
  return outs;
}
