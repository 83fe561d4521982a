// A figure worker thread (server/figure-pool.ts): renders Vega-Lite specs to SVG off the API's
// event loop, at a lower scheduling priority than the event loop itself.
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { renderSvgHere } from '../core/figures/render.ts';

/** Nice value of the render threads (0 = normal, 19 = lowest). */
const RENDER_NICE = 10;

const port = parentPort;
if (!port) throw new Error('server/figure-worker.ts runs as a worker thread');
// Renders are background work: on a busy machine the API's event loop (every other request, /health)
// runs first. On Linux setpriority(pid 0) applies to the calling thread only, so this lowers this
// render thread, not the process (elsewhere it may not be allowed or may apply to the process: then
// renders keep the normal priority).
if (process.platform === 'linux') {
  try {
    setPriority(0, RENDER_NICE);
  } catch {
    // not permitted: renders run at the normal priority
  }
}
port.on('message', async (msg: { id: number; spec: Parameters<typeof renderSvgHere>[0] }) => {
  try {
    port.postMessage({ id: msg.id, svg: await renderSvgHere(msg.spec) });
  } catch (err) {
    port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
port.postMessage({ ready: true });
