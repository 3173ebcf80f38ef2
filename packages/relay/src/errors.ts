/**
 * Why a relay refused a request. Each has a stable code (for programs) and a sentence (the seed's
 * "error string", for people). Spec: docs/protocols/relay.md ("Errors").
 */
export type RelayError =
  | { code: 'RELAY_MALFORMED'; reason: string }
  | { code: 'RELAY_BAD_SIGNATURE' }
  | { code: 'RELAY_NOT_A_REQUEST'; type: string }
  | { code: 'RELAY_WRONG_RELAY' }
  | { code: 'RELAY_STALE'; skewMs: number; maxMs: number }
  | { code: 'RELAY_REPLAYED' }
  | { code: 'RELAY_NO_ACCOUNT' }
  | { code: 'RELAY_QUOTA_FULL'; records: number; recordsMax: number; bytes: number; bytesMax: number }
  | { code: 'RELAY_TTL_TOO_LONG'; ttlMs: number; maxMs: number }
  | { code: 'RELAY_EXPIRED' }
  | { code: 'RELAY_RECORD_ID_TAKEN' }
  | { code: 'RELAY_BAD_PATH'; reason: string }
  | { code: 'RELAY_NOT_YOURS' }
  | { code: 'RELAY_PULL_LIMIT'; pullsMax: number }
  | { code: 'RELAY_BAD_WINDOW' }
  | { code: 'RELAY_BUSY' }
  | { code: 'RELAY_TOO_MANY_LISTENERS'; max: number }
  | { code: 'RELAY_UNAVAILABLE' };

export type RelayErrorCode = RelayError['code'];

export function describeRelayError(error: RelayError): string {
  switch (error.code) {
    case 'RELAY_MALFORMED':
      return `malformed request: ${error.reason}`;
    case 'RELAY_BAD_SIGNATURE':
      return 'the signature does not match the message and its "from" key';
    case 'RELAY_NOT_A_REQUEST':
      return `"${error.type}" is an answer, not a request`;
    case 'RELAY_WRONG_RELAY':
      return 'the request is addressed to another relay ("to" must be this relay\'s key)';
    case 'RELAY_STALE':
      return `the timestamp is ${Math.round(error.skewMs / 1000)} s from the relay's clock (at most ${error.maxMs / 1000} s): check the clock`;
    case 'RELAY_REPLAYED':
      return 'this request was already received (same nonce): sign a new one';
    case 'RELAY_NO_ACCOUNT':
      return 'the sender has no active account on this relay';
    case 'RELAY_QUOTA_FULL':
      return `full: the account holds ${error.records} of ${error.recordsMax} records and ${error.bytes} of ${error.bytesMax} bytes; wait for its records to be deleted or to expire`;
    case 'RELAY_TTL_TOO_LONG':
      return `the ttl is ${error.ttlMs} ms; this relay keeps records at most ${error.maxMs} ms`;
    case 'RELAY_EXPIRED':
      return 'the record would already be expired (timestamp + ttl is in the past)';
    case 'RELAY_RECORD_ID_TAKEN':
      return 'this sender already wrote a different record with this recordId';
    case 'RELAY_BAD_PATH':
      return `bad path: ${error.reason}`;
    case 'RELAY_NOT_YOURS':
      return "only a record's receiver may read it, and only its sender or receiver delete it";
    case 'RELAY_PULL_LIMIT':
      return `the record was already read ${error.pullsMax} times, the most this relay allows`;
    case 'RELAY_BAD_WINDOW':
      return 'afterTs must be less than beforeTs';
    case 'RELAY_BUSY':
      return 'the relay is busy (too many requests in flight on this connection, or its storage queue is full): wait for answers, then retry';
    case 'RELAY_TOO_MANY_LISTENERS':
      return `this listen ended: the key listens on ${error.max} newer connections, the most a relay allows`;
    case 'RELAY_UNAVAILABLE':
      return 'the relay could not reach its storage: try again later';
  }
}
