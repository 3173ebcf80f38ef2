// A VerifyPool worker: verifies packed batches of Ed25519 signatures with libsodium, as the sodium
// crypto provider does (strict verification), and signs packed batches of messages with one key.
// Plain JavaScript: Node 20 does not apply --import hooks (tsx) to a worker's entry module, so this
// file must load without them.
import { parentPort } from 'node:worker_threads';
import sodium from 'sodium-native';

parentPort.on('message', ({ id, op, packed, secretKey }) => {
  if (op === 'sign') return sign(id, packed, secretKey);
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const results = new Uint8Array(countItems(view, packed.length, 100));
  let i = 0;
  for (let at = 0; at < packed.length; i++) {
    const length = view.getUint32(at);
    const publicKey = packed.subarray(at + 4, at + 36);
    const signature = packed.subarray(at + 36, at + 100);
    const message = packed.subarray(at + 100, at + 100 + length);
    results[i] = sodium.crypto_sign_verify_detached(signature, message, publicKey) ? 1 : 0;
    at += 100 + length;
  }
  parentPort.postMessage({ id, results }, [results.buffer]);
});

/** Per item: u32 length, message; answers 64 bytes of signature per item, in order. */
function sign(id, packed, secretKey) {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const results = new Uint8Array(64 * countItems(view, packed.length, 4));
  let i = 0;
  for (let at = 0; at < packed.length; i++) {
    const length = view.getUint32(at);
    sodium.crypto_sign_detached(
      results.subarray(64 * i, 64 * i + 64),
      packed.subarray(at + 4, at + 4 + length),
      secretKey,
    );
    at += 4 + length;
  }
  parentPort.postMessage({ id, results }, [results.buffer]);
}

function countItems(view, total, header) {
  let count = 0;
  for (let at = 0; at < total; count++) at += header + view.getUint32(at);
  return count;
}
