/** Every bound of the simulator, each with the reason for its value. */
export const SimLimits = {
  /**
   * Pending events (messages in flight, wake-ups, scheduled calls). About 50 bytes each, so the
   * default limit is ~200 MB when full: far beyond what 100,000 nodes need, and small enough that a
   * scenario that schedules faster than it runs fails with a clear error instead of exhausting memory.
   */
  maxPendingEvents: 4_194_304,
  /** Outputs one drain may produce: a machine that emits more without yielding a 'timeout' has a bug. */
  maxOutputsPerDrain: 100_000,
  /**
   * Events processed at one instant of virtual time: more means a machine keeps waking itself without
   * time advancing (a timer at or before `now` that never clears).
   */
  maxEventsAtOneInstant: 10_000_000,
  /**
   * Nodes in one world: a link's key (a × n + b) stays an exact integer below 2^53, and a node index
   * fits the 29 bits an event record gives the claimed sender.
   */
  maxNodes: 1 << 24,
} as const;
