// A host's cache of verified announcements: a reconnecting peer's unchanged announcement skips the
// signature check; anything else is checked as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Millis } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { Link, VerifiedAnnouncements, encodeAnnouncement, signAnnouncement } from '../src/index.ts';
import { crypto, joined, node } from './link-pair.ts';

/** The provider, counting Ed25519 verifications. */
function counting(): { provider: CryptoProvider; verifies: () => number } {
  let n = 0;
  const provider: CryptoProvider = {
    ...crypto,
    ed25519Verify: (...args) => {
      n++;
      return crypto.ed25519Verify(...args);
    },
  };
  return { provider, verifies: () => n };
}

const NOW = 0 as Millis;

/** One XX handshake from `alice` to a responder using `provider` and `verified`; the responder's state. */
function handshake(
  alice: ReturnType<typeof node>,
  bob: ReturnType<typeof node>,
  provider: CryptoProvider,
  verified: VerifiedAnnouncements,
): string {
  const initiator = new Link({ crypto, ...alice, role: 'initiator', now: NOW });
  const responder = new Link({
    crypto: provider,
    ...bob,
    role: 'responder',
    verifiedAnnouncements: verified,
    now: NOW,
  });
  for (let i = 0; i < 4; i++) {
    const a = joined(initiator.pull(65_536, NOW));
    if (a) responder.receive(a, NOW);
    const b = joined(responder.pull(65_536, NOW));
    if (b) initiator.receive(b, NOW);
  }
  return responder.state;
}

describe('verified announcements', () => {
  it('verifies a peer announcement once, then not again while it is unchanged', () => {
    const { provider, verifies } = counting();
    const verified = new VerifiedAnnouncements(16);
    const [alice, bob] = [node('alice'), node('bob')];
    assert.equal(handshake(alice, bob, provider, verified), 'established');
    assert.equal(handshake(alice, bob, provider, verified), 'established');
    assert.equal(verifies(), 1);
  });

  it('verifies again when the peer signs a new announcement', () => {
    const { provider, verifies } = counting();
    const verified = new VerifiedAnnouncements(16);
    const [alice, bob] = [node('alice'), node('bob')];
    handshake(alice, bob, provider, verified);
    const moved = {
      ...alice,
      announcement: signAnnouncement(crypto, alice.keys, {
        capabilities: ['test'],
        addresses: ['tcp://127.0.0.1:9999'],
        timestampMs: 1_790_000_000_001,
      }),
    };
    assert.equal(handshake(moved, bob, provider, verified), 'established');
    assert.equal(verifies(), 2);
  });

  it('still refuses a bad signature on an announcement whose content was verified before', () => {
    const { provider } = counting();
    const verified = new VerifiedAnnouncements(16);
    const [alice, bob] = [node('alice'), node('bob')];
    handshake(alice, bob, provider, verified);
    const announcement = { ...alice.announcement, signature: alice.announcement.signature.map((b) => b ^ 1) };
    assert.notDeepEqual(encodeAnnouncement(announcement), encodeAnnouncement(alice.announcement));
    assert.equal(handshake({ ...alice, announcement }, bob, provider, verified), 'closed');
  });

  it('forgets the least recently seen announcement beyond its bound', () => {
    const { provider, verifies } = counting();
    const verified = new VerifiedAnnouncements(1);
    const [alice, carol, bob] = [node('alice'), node('carol'), node('bob')];
    handshake(alice, bob, provider, verified);
    handshake(carol, bob, provider, verified);
    handshake(alice, bob, provider, verified);
    assert.equal(verifies(), 3);
  });
});
