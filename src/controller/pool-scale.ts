import { JitpoolError } from '../core/index.ts';

/** An operator's sizing request (`jitpool pool scale`, `POST /api/v1/pools/{name}/scale`); unset fields keep their value. */
export interface PoolScaleRequest {
  min?: number;
  max?: number;
  target?: number;
}

/** The sizing to persist, and whether the requested target had to be clamped. */
export interface PoolScale {
  minIdle: number;
  max: number;
  /** The warm floor in use: the target clamped to [minIdle, max] (seed 001 §9.1). */
  target: number;
  requestedTarget: number;
  isClamped: boolean;
}

/**
 * Resolves a sizing request against the pool's current sizing. Pure. `target` defaults to
 * `min` and is clamped to [min, max]; `min > max` and negative or fractional values are refused
 * with `JP_INPUT_INVALID` naming the field.
 */
export function resolvePoolScale(current: { minIdle: number; max: number }, request: PoolScaleRequest): PoolScale {
  const check = (field: 'min' | 'max' | 'target', value: number | undefined, least: number): void => {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < least) {
      throw new JitpoolError('JP_INPUT_INVALID', `${field} must be an integer >= ${least}, got ${String(value)}`, { details: { field, value } });
    }
  };
  check('min', request.min, 0);
  check('max', request.max, 1);
  check('target', request.target, 0);
  const minIdle = request.min ?? Math.min(current.minIdle, request.max ?? current.max);
  const max = request.max ?? current.max;
  if (minIdle > max) throw new JitpoolError('JP_INPUT_INVALID', `min (${minIdle}) must not exceed max (${max})`, { details: { field: 'min', min: minIdle, max } });
  const requestedTarget = request.target ?? minIdle;
  const target = Math.min(max, Math.max(minIdle, requestedTarget));
  return { minIdle, max, target, requestedTarget, isClamped: target !== requestedTarget };
}
