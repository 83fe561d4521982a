// The experiment's progress stream (text/event-stream), read with fetch so the key can travel in a
// header (EventSource cannot send one).
import { call } from './api.js';

/**
 * @typedef {{ status: import('./types.js').Status, fraction: number, message: string,
 *   etaSeconds: number|null }} ProgressEvent
 */

/**
 * Follows GET /v1/experiments/ID/events until the stream ends (after its `end` event, or when the
 * connection drops); onEvent gets each event's name and parsed data.
 * @param {string} id
 * @param {string|null} share
 * @param {AbortSignal} signal
 * @param {(event: string, data: ProgressEvent) => void} onEvent
 */
export async function followEvents(id, share, signal, onEvent) {
  const res = await call(`/v1/experiments/${id}/events`, { share, signal });
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}
