/** The order images are drawn in during one epoch (indices into the training set), from a seeded rng. */

export function shuffledOrder(n: number, rand: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Class-balanced sampling: an epoch of n draws where each draw is malignant with probability
 * `fraction`, cycling through a fresh shuffle of each class. With 19 % melanomas and fraction 0.5
 * every melanoma is seen about 2.7 times an epoch and benign images about 0.6 times.
 */
export function balancedOrder(labels: ArrayLike<number>, fraction: number, rand: () => number): number[] {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`malignant fraction must be in (0, 1), got ${fraction}`);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i] ? pos : neg).push(i);
  if (pos.length === 0 || neg.length === 0) return shuffledOrder(labels.length, rand);
  const pools = [neg, pos].map((g) => ({ items: g, order: [] as number[] }));
  const next = (k: 0 | 1) => {
    const p = pools[k];
    if (p.order.length === 0) p.order = shuffledOrder(p.items.length, rand).map((i) => p.items[i]);
    return p.order.pop() as number;
  };
  return Array.from({ length: labels.length }, () => next(rand() < fraction ? 1 : 0));
}
