// Chooses the TensorFlow.js backend once per process: tfjs-node-gpu, then tfjs-node, then wasm,
// then cpu. Entrypoints pass an explicit preference (e.g. from TFJS_BACKEND); core never reads env.
import * as tf from '@tensorflow/tfjs';

export type BackendChoice = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendChoice[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The choice that won, e.g. 'wasm'. */
  name: BackendChoice;
  /** tf.getBackend() after selection ('tensorflow', 'wasm' or 'cpu'). */
  tfBackend: string;
  /** The preference passed in, if any. */
  requested?: string;
  /** Each choice tried, in order, with the reason it was skipped. */
  attempts: Array<{ name: BackendChoice; ok: boolean; error?: string }>;
}

export class BackendError extends Error {
  readonly code = 'BACKEND_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

const ALIASES: Record<string, BackendChoice> = {
  'tfjs-node-gpu': 'tfjs-node-gpu',
  'node-gpu': 'tfjs-node-gpu',
  gpu: 'tfjs-node-gpu',
  'tfjs-node': 'tfjs-node',
  node: 'tfjs-node',
  tensorflow: 'tfjs-node',
  wasm: 'wasm',
  cpu: 'cpu',
};

let chosen: Promise<BackendInfo> | undefined;
let chosenPreference: BackendChoice | undefined;

/** Module names held in variables so TypeScript does not require the optional packages to exist. */
const NODE_PACKAGES: Record<'tfjs-node-gpu' | 'tfjs-node', string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
};

async function tryBackend(choice: BackendChoice): Promise<void> {
  if (choice === 'tfjs-node-gpu' || choice === 'tfjs-node') {
    await import(NODE_PACKAGES[choice]);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('backend "tensorflow" failed to initialise');
    return;
  }
  if (choice === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('backend "wasm" failed to initialise');
    return;
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('backend "cpu" failed to initialise');
}

async function select(
  preference: BackendChoice | undefined,
  requested: string | undefined,
): Promise<BackendInfo> {
  const attempts: BackendInfo['attempts'] = [];
  for (const name of preference ? [preference] : BACKEND_ORDER) {
    try {
      await tryBackend(name);
      await tf.ready();
      attempts.push({ name, ok: true });
      return { name, tfBackend: tf.getBackend(), requested, attempts };
    } catch (err) {
      attempts.push({
        name,
        ok: false,
        error: err instanceof Error ? err.message.split('\n')[0] : String(err),
      });
    }
  }
  const detail = attempts.map((a) => `${a.name}: ${a.error}`).join('; ');
  throw new BackendError(
    preference
      ? `TensorFlow.js backend '${requested}' is unavailable (${detail})`
      : `no TensorFlow.js backend works (${detail})`,
  );
}

/**
 * Selects the backend for this process (first call) or returns the earlier selection. `preference`
 * ('tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu', aliases 'gpu', 'node', 'tensorflow'; empty =
 * automatic) forces one backend and fails if it cannot load. Asking for a different backend after the
 * first selection throws: the backend is process-wide.
 */
export function initBackend(preference?: string): Promise<BackendInfo> {
  const requested = preference?.trim() || undefined;
  let wanted: BackendChoice | undefined;
  if (requested !== undefined) {
    wanted = ALIASES[requested.toLowerCase()];
    if (!wanted) {
      return Promise.reject(
        new BackendError(
          `unknown TensorFlow.js backend '${requested}' (expected one of ${BACKEND_ORDER.join(', ')})`,
        ),
      );
    }
  }
  if (chosen) {
    if (wanted !== undefined && wanted !== chosenPreference) {
      return chosen.then((info) => {
        if (info.name !== wanted) {
          throw new BackendError(`backend already selected as '${info.name}'; cannot switch to '${wanted}'`);
        }
        return info;
      });
    }
    return chosen;
  }
  chosenPreference = wanted;
  chosen = select(wanted, requested);
  chosen.catch(() => {
    chosen = undefined;
    chosenPreference = undefined;
  });
  return chosen;
}
