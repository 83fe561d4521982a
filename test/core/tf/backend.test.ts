import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BackendError, initBackend } from '../../../core/tf/backend.ts';

describe('initBackend', () => {
  it('rejects unknown names without selecting anything', async () => {
    await assert.rejects(
      initBackend('quantum'),
      (e: unknown) => e instanceof BackendError && /quantum/.test(e.message),
    );
  });

  it('selects the first working backend in order, once per process', async () => {
    const info = await initBackend();
    assert.equal(tf.getBackend(), info.tfBackend);
    assert.ok(info.attempts[info.attempts.length - 1].ok);
    assert.deepEqual(
      info.attempts.map((a) => a.name),
      ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'].slice(0, info.attempts.length),
    );
    for (const failed of info.attempts.slice(0, -1)) assert.ok(failed.error, `${failed.name} has a reason`);
    assert.equal(await initBackend(), info);
    assert.equal(await initBackend(info.name), info);
    const other = info.name === 'cpu' ? 'wasm' : 'cpu';
    await assert.rejects(
      initBackend(other),
      (e: unknown) => e instanceof BackendError && /already selected/.test(e.message),
    );
  });
});
