import { JitpoolError } from '../core/index.ts';

/** Request timeouts and shutdown aborts for the GitHub client. */

/** `fetch` with a per-request timeout that also ends when `shutdown` aborts. */
export function timeoutFetch(timeoutMs: number, shutdown?: AbortSignal): typeof fetch {
  return (input, init) => {
    const signals = [AbortSignal.timeout(timeoutMs), ...(init?.signal ? [init.signal] : []), ...(shutdown ? [shutdown] : [])];
    return fetch(input, { ...init, signal: AbortSignal.any(signals) });
  };
}

/** `promise`, or a retryable `JP_GITHUB_ABORTED` as soon as `signal` aborts (shutdown). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, route: string): Promise<T> {
  const aborted = () => new JitpoolError('JP_GITHUB_ABORTED', `${route}: abandoned, jitpool is shutting down`);
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(aborted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
