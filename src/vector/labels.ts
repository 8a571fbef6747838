/**
 * Label <-> slot bookkeeping shared by the index kinds. Labels are the owner's u32 ids; slots are
 * positions in the index's own arrays (the VectorSlab row). `slotOf` is a dense Int32Array indexed
 * by label (-1 = absent).
 */
export class LabelTable {
  slotOf: Int32Array = new Int32Array(1024).fill(-1);
  labelOf: Uint32Array = new Uint32Array(1024);
  live = 0;

  slot(label: number): number {
    return label < this.slotOf.length ? this.slotOf[label]! : -1;
  }

  bind(label: number, slot: number): void {
    if (label >= this.slotOf.length) {
      const n = Math.max(label + 1, this.slotOf.length * 2);
      const s = new Int32Array(n).fill(-1);
      s.set(this.slotOf);
      this.slotOf = s;
    }
    if (slot >= this.labelOf.length) {
      const l = new Uint32Array(Math.max(slot + 1, this.labelOf.length * 2));
      l.set(this.labelOf);
      this.labelOf = l;
    }
    if (this.slotOf[label] === -1) this.live++;
    this.slotOf[label] = slot;
    this.labelOf[slot] = label;
  }

  /** Records the label of a slot without binding it (tombstoned slots keep their old label). */
  setLabelOnly(slot: number, label: number): void {
    if (slot >= this.labelOf.length) {
      const l = new Uint32Array(Math.max(slot + 1, this.labelOf.length * 2));
      l.set(this.labelOf);
      this.labelOf = l;
    }
    this.labelOf[slot] = label;
  }

  unbind(label: number): void {
    if (label < this.slotOf.length && this.slotOf[label] !== -1) {
      this.slotOf[label] = -1;
      this.live--;
    }
  }

  memoryBytes(): number {
    return this.slotOf.byteLength + this.labelOf.byteLength;
  }
}
