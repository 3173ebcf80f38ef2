export {
  ENVELOPE_VERSION,
  seal,
  open,
  verifyEnvelope,
  parseEnvelope,
  describeEnvelopeError,
  envelopeDedupeKey,
  type EnvelopeHeader,
  type ParsedEnvelope,
  type OpenedEnvelope,
  type EnvelopeError,
  type EnvelopeRecipient,
  type SealOptions,
} from './envelope.ts';
export { EnvelopeLimits } from './limits.ts';
export { paddedSize } from './padding.ts';
