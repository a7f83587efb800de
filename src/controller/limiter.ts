/** Runs at most `concurrency` tasks at once, in submission order. */
export class Limiter {
  readonly #concurrency: number;
  readonly #waiting: Array<() => void> = [];
  readonly #idleWaiters: Array<() => void> = [];
  #running = 0;

  constructor(concurrency: number) {
    this.#concurrency = Math.max(1, concurrency);
  }

  /** Tasks running or waiting. */
  get pending(): number {
    return this.#running + this.#waiting.length;
  }

  /** Queues `task`; the returned promise settles with it. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#running += 1;
        task().then(resolve, reject).finally(() => {
          this.#running -= 1;
          this.#waiting.shift()?.();
          if (this.pending === 0) for (const waiter of this.#idleWaiters.splice(0)) waiter();
        });
      };
      if (this.#running < this.#concurrency) start();
      else this.#waiting.push(start);
    });
  }

  /** Resolves once nothing is running or waiting. */
  onIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}
