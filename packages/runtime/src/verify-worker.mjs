// A VerifyPool worker: verifies packed batches of Ed25519 signatures with libsodium, as the sodium
// crypto provider does (strict verification). Plain JavaScript: Node 20 does not apply --import
// hooks (tsx) to a worker's entry module, so this file must load without them.
import { parentPort } from 'node:worker_threads';
import sodium from 'sodium-native';

parentPort.on('message', ({ id, packed }) => {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const results = new Uint8Array(countItems(view, packed.length));
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

function countItems(view, total) {
  let count = 0;
  for (let at = 0; at < total; count++) at += 100 + view.getUint32(at);
  return count;
}
