import type { RunnableScenario } from '../scenario.ts';
import { ping } from './ping.ts';
import { brokenNoDedupe, brokenNoPersist, brokenNoRetransmit, reliable, reliableSwarm } from './reliable.ts';

/** The scenarios `npm run sim` knows, by name. */
export const scenarios: ReadonlyMap<string, RunnableScenario> = new Map(
  [reliable, reliableSwarm, brokenNoRetransmit, brokenNoDedupe, brokenNoPersist, ping].map((s) => [
    s.name,
    s,
  ]),
);
