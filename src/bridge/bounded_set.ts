/** An insertion-ordered set that forgets its oldest entries beyond `capacity` (the bridge's local de-duplication record). */
export class BoundedSet<T> {
  private readonly set = new Set<T>();
  constructor(readonly capacity: number) {}
  has(v: T): boolean {
    return this.set.has(v);
  }
  add(v: T): void {
    if (this.set.has(v)) return;
    this.set.add(v);
    while (this.set.size > this.capacity) {
      const first = this.set.values().next().value as T;
      this.set.delete(first);
    }
  }
  get size(): number {
    return this.set.size;
  }
}
