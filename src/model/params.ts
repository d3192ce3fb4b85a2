import * as tf from '@tensorflow/tfjs-core';

/**
 * Named weights of the network. Trainable weights are tf.Variables; batch-norm running statistics are
 * kept apart (`stats`) because they are updated by assignment, not by the optimizer.
 */
export class ParamStore {
  readonly trainable = new Map<string, tf.Variable>();
  readonly stats = new Map<string, tf.Variable>();
  private seed: number;
  private static stores = 0;
  /** tfjs variable names are global to the engine: prefix them so two models can live in one process. */
  readonly prefix = `m${++ParamStore.stores}/`;

  constructor(seed = 1) {
    this.seed = seed;
  }

  /** Adopts a loaded tensor as a weight (a copy; the caller keeps ownership of `t`). */
  adopt(name: string, t: tf.Tensor, trainable: boolean): tf.Variable {
    const v = tf.variable(t, trainable, this.prefix + name);
    (trainable ? this.trainable : this.stats).set(name, v);
    return v;
  }

  /** Trainable weights sorted by name: the order the optimizer's state is kept in, stable across save/resume. */
  trainableSorted(): Array<[string, tf.Variable]> {
    return [...this.trainable].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  /** Moves the named trainable weights to the fixed ones (kept, saved and loaded, never optimised). */
  freeze(names: Iterable<string>): void {
    for (const n of names) {
      const v = this.trainable.get(n);
      if (!v) continue;
      this.trainable.delete(n);
      this.stats.set(n, v);
    }
  }

  get(name: string): tf.Variable {
    const v = this.trainable.get(name) ?? this.stats.get(name);
    if (!v) throw new Error(`model weight '${name}' is missing: the weights do not match the architecture config`);
    return v;
  }

  has(name: string): boolean {
    return this.trainable.has(name) || this.stats.has(name);
  }

  /** He-normal init for weights feeding a ReLU; fan-in is every axis but the last. */
  heNormal(name: string, shape: number[], gain = 2): tf.Variable {
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return this.add(name, () => tf.randomNormal(shape, 0, Math.sqrt(gain / fanIn), 'float32', this.seed++));
  }

  normal(name: string, shape: number[], std: number): tf.Variable {
    return this.add(name, () => tf.randomNormal(shape, 0, std, 'float32', this.seed++));
  }

  constant(name: string, shape: number[], value: number, trainable = true): tf.Variable {
    return this.add(name, () => tf.fill(shape, value), trainable);
  }

  private add(name: string, init: () => tf.Tensor, trainable = true): tf.Variable {
    if (this.has(name)) return this.get(name);
    const v = tf.tidy(() => tf.variable(init(), trainable, this.prefix + name));
    (trainable ? this.trainable : this.stats).set(name, v);
    return v;
  }

  /** Every weight, trainable and not, in a stable order (sorted by name) for saving. */
  all(): Array<[string, tf.Variable]> {
    return [...this.trainable, ...this.stats].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  count(): number {
    let n = 0;
    for (const [, v] of this.trainable) n += v.size;
    return n;
  }

  dispose(): void {
    for (const [, v] of this.all()) v.dispose();
    this.trainable.clear();
    this.stats.clear();
  }
}
