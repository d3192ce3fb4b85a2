/**
 * Counts multiply-adds of the network's convolutions and matrix products while enabled, so the
 * benchmark reports GFLOPs counted from the real forward pass rather than estimated.
 */
let counter: { flops: number } | null = null;

export function countFlops(n: number): void {
  if (counter) counter.flops += n;
}

export function withFlopCounter<T>(fn: () => T): { result: T; flops: number } {
  const previous = counter;
  counter = { flops: 0 };
  try {
    const result = fn();
    return { result, flops: counter.flops };
  } finally {
    counter = previous;
  }
}
