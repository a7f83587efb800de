import { connect, type Socket } from 'node:net';
import { JitpoolError } from '../core/index.ts';

/**
 * A small client of QEMU's Machine Protocol (QMP) over the VM's unix socket: one JSON object
 * per line; the server greets with `{"QMP": …}`, accepts `qmp_capabilities`, then answers each
 * `{"execute": …, "id": …}` with `{"return": …, "id": …}` or `{"error": …, "id": …}` and sends
 * asynchronous `{"event": …}` lines in between (https://www.qemu.org/docs/master/interop/qmp-spec.html).
 * The `vm` provider stops machines through it (`system_powerdown`, then `quit`) instead of
 * signalling a pid blindly.
 */
export class QmpClient {
  readonly #socket: Socket;
  readonly #pending = new Map<string, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  readonly #events: string[] = [];
  #buffer = '';
  #nextId = 1;
  #closedError: Error | null = null;
  #greeted = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    const onGone = (err?: Error) => {
      this.#closedError ??= err ?? new Error('QMP connection closed');
      for (const { reject } of this.#pending.values()) reject(this.#closedError);
      this.#pending.clear();
    };
    socket.on('error', onGone);
    socket.on('close', () => onGone());
  }

  /** Connects, reads the greeting and negotiates capabilities; rejects with JP_PROVIDER_UNAVAILABLE when nothing answers in `timeoutMs`. */
  static async connect(socketPath: string, timeoutMs = 10_000): Promise<QmpClient> {
    const socket = connect(socketPath);
    const client = new QmpClient(socket);
    const timer = setTimeout(() => socket.destroy(new Error(`no QMP greeting within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (client.#greeted) resolve();
          else if (client.#closedError) reject(client.#closedError);
          else setTimeout(check, 10);
        };
        check();
      });
      await client.execute('qmp_capabilities', undefined, timeoutMs);
      return client;
    } catch (err) {
      socket.destroy();
      throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `QMP at ${socketPath} did not answer: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one command and resolves with its `return` value; a QMP error rejects with JP_PROVIDER_UNAVAILABLE naming its class. */
  execute(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const id = `jp-${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new JitpoolError('JP_PROVIDER_TIMEOUT', `QMP ${command} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.#socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Names of the events received so far (e.g. `POWERDOWN`, `SHUTDOWN`). */
  get events(): readonly string[] {
    return this.#events;
  }

  /** Resolves once the connection is closed (QEMU exited or `close()` was called), or after `timeoutMs` with false. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.#socket.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    for (let newline = this.#buffer.indexOf('\n'); newline >= 0; newline = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line === '') continue;
      let message: { QMP?: unknown; event?: string; id?: string; return?: unknown; error?: { class?: string; desc?: string } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        continue;
      }
      if (message.QMP !== undefined) this.#greeted = true;
      else if (typeof message.event === 'string') this.#events.push(message.event);
      else if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        if (!pending) continue;
        this.#pending.delete(message.id);
        if (message.error) pending.reject(new JitpoolError('JP_PROVIDER_UNAVAILABLE', `QMP error ${message.error.class ?? '?'}: ${message.error.desc ?? ''}`));
        else pending.resolve(message.return);
      }
    }
  }
}
