import { assert, UsageError } from '@postern/core';
import { DH_BYTES, TAG_BYTES } from './limits.ts';

/**
 * The handshake patterns of the Noise spec (revision 34), written as the spec writes them: pre-message
 * lines, '...', then messages; '->' is sent by the initiator, '<-' by the responder. The psk patterns
 * of §9.4 are not listed: they are these patterns with psk modifiers applied (§9.2), which `lookupPattern`
 * does for any pattern here.
 */
const PATTERN_TABLE: ReadonlyMap<string, string> = new Map([
  // §7.4 one-way patterns: a single message from initiator to responder.
  ['N', '<- s; ...; -> e, es'],
  ['K', '-> s; <- s; ...; -> e, es, ss'],
  ['X', '<- s; ...; -> e, es, s, ss'],
  // §7.5 fundamental interactive patterns.
  ['NN', '-> e; <- e, ee'],
  ['NK', '<- s; ...; -> e, es; <- e, ee'],
  ['NX', '-> e; <- e, ee, s, es'],
  ['KN', '-> s; ...; -> e; <- e, ee, se'],
  ['KK', '-> s; <- s; ...; -> e, es, ss; <- e, ee, se'],
  ['KX', '-> s; ...; -> e; <- e, ee, se, s, es'],
  ['XN', '-> e; <- e, ee; -> s, se'],
  ['XK', '<- s; ...; -> e, es; <- e, ee; -> s, se'],
  ['XX', '-> e; <- e, ee, s, es; -> s, se'],
  ['IN', '-> e, s; <- e, ee, se'],
  ['IK', '<- s; ...; -> e, es, s, ss; <- e, ee, se'],
  ['IX', '-> e, s; <- e, ee, se, s, es'],
  // §7.6 deferred patterns: a '1' defers that party's authentication DH to a later message.
  ['NK1', '<- s; ...; -> e; <- e, ee, es'],
  ['NX1', '-> e; <- e, ee, s; -> es'],
  ['X1N', '-> e; <- e, ee; -> s; <- se'],
  ['X1K', '<- s; ...; -> e, es; <- e, ee; -> s; <- se'],
  ['XK1', '<- s; ...; -> e; <- e, ee, es; -> s, se'],
  ['X1K1', '<- s; ...; -> e; <- e, ee, es; -> s; <- se'],
  ['X1X', '-> e; <- e, ee, s, es; -> s; <- se'],
  ['XX1', '-> e; <- e, ee, s; -> es, s, se'],
  ['X1X1', '-> e; <- e, ee, s; -> es, s; <- se'],
  ['K1N', '-> s; ...; -> e; <- e, ee; -> se'],
  ['K1K', '-> s; <- s; ...; -> e, es; <- e, ee; -> se'],
  ['KK1', '-> s; <- s; ...; -> e; <- e, ee, se, es'],
  ['K1K1', '-> s; <- s; ...; -> e; <- e, ee, es; -> se'],
  ['K1X', '-> s; ...; -> e; <- e, ee, s, es; -> se'],
  ['KX1', '-> s; ...; -> e; <- e, ee, se, s; -> es'],
  ['K1X1', '-> s; ...; -> e; <- e, ee, s; -> se, es'],
  ['I1N', '-> e, s; <- e, ee; -> se'],
  ['I1K', '<- s; ...; -> e, es, s; <- e, ee; -> se'],
  ['IK1', '<- s; ...; -> e, s; <- e, ee, se, es'],
  ['I1K1', '<- s; ...; -> e, s; <- e, ee, es; -> se'],
  ['I1X', '-> e, s; <- e, ee, s, es; -> se'],
  ['IX1', '-> e, s; <- e, ee, se, s; -> es'],
  ['I1X1', '-> e, s; <- e, ee, s; -> se, es'],
]);

export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';
const TOKENS: readonly string[] = ['e', 's', 'ee', 'es', 'se', 'ss', 'psk'];

export interface HandshakePattern {
  /** The pattern part of the protocol name, modifiers included: 'XXpsk3'. */
  readonly name: string;
  /**
   * Static keys known before the handshake (§7.1). The spec's tables only pre-share static keys:
   * ephemeral pre-messages belong to the 'fallback' modifier, which is not supported.
   */
  readonly initiatorPreShared: boolean;
  readonly responderPreShared: boolean;
  /** messages[i] is written by the initiator when i is even, by the responder when odd. */
  readonly messages: readonly (readonly Token[])[];
  /** A psk handshake: every 'e' token also calls MixKey (§9.2). */
  readonly isPsk: boolean;
  /** §7.4: only the initiator ever sends transport messages. */
  readonly isOneWay: boolean;
}

/** The pattern for a name such as 'XX', 'NK1' or 'IKpsk1+psk2'; throws UsageError for anything else. */
export function lookupPattern(name: string): HandshakePattern {
  const match = /^([A-Z0-9]+)([a-z][a-z0-9+]*)?$/.exec(name);
  const base = match?.[1];
  const spec = base === undefined ? undefined : PATTERN_TABLE.get(base);
  if (base === undefined || spec === undefined) {
    throw new UsageError('NOISE_UNSUPPORTED_PROTOCOL', `unknown Noise handshake pattern '${name}'`);
  }
  const pattern = parsePattern(base, spec);
  const modifiers = match?.[2];
  return modifiers === undefined ? pattern : applyModifiers(pattern, name, modifiers.split('+'));
}

export function patternNames(): string[] {
  return [...PATTERN_TABLE.keys()];
}

/** §9.2: psk0 puts a 'psk' token first in the first message; pskN (N ≥ 1) last in the Nth. */
function applyModifiers(pattern: HandshakePattern, name: string, modifiers: string[]): HandshakePattern {
  const messages = pattern.messages.map((tokens) => [...tokens]);
  const seen = new Set<number>();
  for (const modifier of modifiers) {
    const position = /^psk([0-9])$/.exec(modifier)?.[1];
    if (position === undefined) {
      throw new UsageError(
        'NOISE_UNSUPPORTED_PROTOCOL',
        `Noise pattern modifier '${modifier}' in '${name}' is not supported: only psk0..psk9 are`,
      );
    }
    const n = Number(position);
    if (seen.has(n) || n > messages.length) {
      throw new UsageError(
        'NOISE_UNSUPPORTED_PROTOCOL',
        `'${name}': psk${n} is repeated or names a message past the pattern's ${messages.length}`,
      );
    }
    seen.add(n);
    if (n === 0) messages[0]?.unshift('psk');
    else messages[n - 1]?.push('psk');
  }
  return { ...pattern, name, messages, isPsk: true };
}

/** Parses a table entry; the table is ours, so a malformed entry is a bug, not bad input. */
function parsePattern(name: string, spec: string): HandshakePattern {
  const lines = spec.split(';').map((line) => line.trim());
  const dots = lines.indexOf('...');
  const preLines = dots < 0 ? [] : lines.slice(0, dots);
  const messageLines = lines.slice(dots + 1);
  const preShared = (arrow: string): boolean => preLines.includes(`${arrow} s`);
  assert(
    preLines.every((line) => line === '-> s' || line === '<- s'),
    `pattern ${name}: pre-messages share static keys only`,
  );
  const messages = messageLines.map((line, i) => {
    const arrow = i % 2 === 0 ? '-> ' : '<- ';
    assert(line.startsWith(arrow), `pattern ${name}: messages alternate, initiator first`);
    const tokens = line.slice(arrow.length).split(', ');
    assert(tokens.every(isToken), `pattern ${name}: known tokens only`);
    return tokens;
  });
  return {
    name,
    initiatorPreShared: preShared('->'),
    responderPreShared: preShared('<-'),
    messages,
    isPsk: false,
    isOneWay: messages.length === 1,
  };
}

function isToken(text: string): text is Token {
  return TOKENS.includes(text);
}

/**
 * The exact length of a message carrying `payloadBytes` (§5.3): 32 bytes per 'e', 32 per 's' plus a
 * tag once a key exists, and the payload plus a tag once a key exists. A key exists after any DH or
 * psk token, and after 'e' in a psk handshake (§9.2). Checked before a message is built or parsed.
 */
export function messageBytes(
  tokens: readonly Token[],
  keyedAtStart: boolean,
  isPsk: boolean,
  payloadBytes: number,
): number {
  let keyed = keyedAtStart;
  let bytes = 0;
  for (const token of tokens) {
    if (token === 'e') {
      bytes += DH_BYTES;
      keyed ||= isPsk;
    } else if (token === 's') {
      bytes += DH_BYTES + (keyed ? TAG_BYTES : 0);
    } else {
      keyed = true;
    }
  }
  return bytes + payloadBytes + (keyed ? TAG_BYTES : 0);
}
