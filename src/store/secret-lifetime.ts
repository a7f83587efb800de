import { forgetSecrets } from '../core/index.ts';
import type { Store } from './store.ts';

/**
 * Ties a runner's secrets to its life: when the store records a runner `removed`, the redaction
 * registry forgets what was registered under the runner's name (its JIT config). Returns the
 * unsubscribe function.
 */
export function forgetSecretsOfRemovedRunners(store: Store): () => void {
  return store.onTransition((transition) => {
    if (transition.entity !== 'runner' || transition.toState !== 'removed') return;
    const runner = store.findRunnerById(transition.entityId);
    if (runner) forgetSecrets(runner.name);
  });
}
