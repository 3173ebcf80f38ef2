export { World, type WorldOptions, type WorldObserver, type WorldStats } from './world.ts';
export type { NodeProgram, NodeContext, StoreWrite, Directory } from './node.ts';
export { Network, defaultNetwork, type NetworkOptions, type DropReason } from './network.ts';
export { Clocks, defaultClocks, type ClockOptions } from './clock.ts';
export { EventQueue } from './queue.ts';
export { TraceHash } from './trace.ts';
export { SimLimits } from './limits.ts';
export { Churn, type ChurnOptions } from './churn.ts';
export {
  draw,
  fixed,
  uniform,
  exponential,
  pareto,
  lognormal,
  checkDistribution,
  type Distribution,
} from './distributions.ts';
export {
  compose,
  drop,
  delay,
  lie,
  impersonate,
  forgeCopies,
  type Adversary,
  type AdversaryContext,
  type AdversaryWorld,
  type Intercepted,
  type Hook,
  type Direction,
} from './adversary.ts';
export {
  TotalQueue,
  describeQueue,
  type TotalQueueResult,
  type MessageId,
  type Invariant,
  type Liveness,
} from './checkers.ts';
export {
  defineScenario,
  runScenario,
  reproduceCommand,
  type Scenario,
  type ScenarioOptions,
  type ScenarioContext,
  type RunnableScenario,
  type RunRequest,
  type RunReport,
  type Progress,
  type Phase,
  type InvariantReport,
} from './scenario.ts';
export { startNemesis, calmNemesis, randomHalf, type NemesisOptions } from './scenarios/nemesis.ts';
export { scenarios } from './scenarios/index.ts';
export { type ReliableScenarioOptions } from './scenarios/reliable.ts';
export {
  ReliableMachine,
  reliableProgram,
  defaultReliableOptions,
  type ReliableEvent,
  type ReliableOptions,
  type ReliableBugs,
} from './examples/reliable.ts';
export { Pinger, pingerProgram, type PingerOptions } from './examples/pinger.ts';
