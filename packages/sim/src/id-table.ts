import { type NodeId, UsageError, bytesEqual, toHex } from '@postern/core';

/**
 * Finds a node's index from its id bytes without building a string per lookup: open addressing on
 * the id's first four bytes, at most half full. A hit on the very object the simulator handed out
 * (a reply to `from`) costs one comparison; an equal copy (an id decoded from a message) costs one
 * byte comparison.
 */
export class IdTable {
  readonly #ids: readonly NodeId[];
  readonly #table: Int32Array; // index + 1; 0 is empty
  readonly #mask: number;

  constructor(ids: readonly NodeId[]) {
    this.#ids = ids;
    let size = 16;
    while (size < ids.length * 2) size *= 2;
    this.#table = new Int32Array(size);
    this.#mask = size - 1;
    ids.forEach((id, index) => this.#insert(id, index));
  }

  /** The index of the node with this id, or -1 when no node has it. */
  indexOf(id: Uint8Array): number {
    const table = this.#table;
    const mask = this.#mask;
    // Terminates: the table is at most half full, so probing reaches an empty cell.
    for (let h = slotOf(id, mask); ; h = (h + 1) & mask) {
      const entry = table[h] as number;
      if (entry === 0) return -1;
      const candidate = this.#ids[entry - 1] as NodeId;
      if (candidate === id || bytesEqual(candidate, id)) return entry - 1;
    }
  }

  #insert(id: NodeId, index: number): void {
    if (this.indexOf(id) >= 0) {
      throw new UsageError('SIM_DUPLICATE_NODE_ID', `two nodes have the same id ${toHex(id)}`);
    }
    let h = slotOf(id, this.#mask);
    while (this.#table[h] !== 0) h = (h + 1) & this.#mask;
    this.#table[h] = index + 1;
  }
}

function slotOf(id: Uint8Array, mask: number): number {
  const word =
    (id[0] as number) | ((id[1] as number) << 8) | ((id[2] as number) << 16) | ((id[3] as number) << 24);
  return (Math.imul(word, 0x9e3779b1) >>> 7) & mask;
}
