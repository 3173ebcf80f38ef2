export {
  PosternNode,
  NODE_TABLES,
  type PosternNodeOptions,
  type NodeEvent,
  type NodeRow,
  type NodeTable,
} from './machine.ts';
export { TICKETS_SALT, ticketsRecordKey, signTicketsRecord, openTicketsRecord } from './directory.ts';
export { encodeDhtContacts, decodeDhtContacts } from './dht-state.ts';
export { posternProgram, simIdentity, simSeeds } from './sim-program.ts';
export { messagingScenario, messagingDirectScenario, type MessagingScenarioOptions } from './sim-scenario.ts';
export { RelayMailbox } from './relay/mailbox.ts';
export type { RelayEvent } from './relay/core.ts';
export { MESSAGE_TAG } from './relay/outgoing.ts';
export { DEFAULT_MAILBOX_LIMITS, type Limits as RelayMailboxLimits } from './relay/rows.ts';
