// A figure worker thread (server/figure-pool.ts): renders Vega-Lite specs to SVG off the API's
// event loop.
import { parentPort } from 'node:worker_threads';
import { renderSvgHere } from '../core/figures/render.ts';

const port = parentPort;
if (!port) throw new Error('server/figure-worker.ts runs as a worker thread');
port.on('message', async (msg: { id: number; spec: Parameters<typeof renderSvgHere>[0] }) => {
  try {
    port.postMessage({ id: msg.id, svg: await renderSvgHere(msg.spec) });
  } catch (err) {
    port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
port.postMessage({ ready: true });
