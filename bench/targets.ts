/**
 * The figures `npm run bench` is held to, each beside its measurement. A target is a bound on
 * one number of the result; a figure the run could not measure is `null` and reported as such,
 * never as met. The table prints every row with its verdict; `--json` carries the same rows.
 */

/** How a measured figure is compared with its bound. */
export type Comparison = '<' | '<=' | '>=' | '=';

/** One target and where the run stands against it. */
export interface TargetRow {
  /** Stable key for scripts. */
  id: string;
  /** What is measured, in words. */
  figure: string;
  /** The measured value, or null when this run could not measure it. */
  measured: number | null;
  unit: string;
  comparison: Comparison;
  bound: number;
  /** true: met; false: missed; null: not measured (with the reason). */
  met: boolean | null;
  reason?: string;
}

/** A target before it is judged. */
export interface TargetSpec {
  id: string;
  figure: string;
  unit: string;
  comparison: Comparison;
  bound: number;
  /** The measured value, or a reason it could not be measured. */
  measured: number | { reason: string } | null | undefined;
}

/** Judges each target against its measurement. */
export function judgeTargets(specs: readonly TargetSpec[]): TargetRow[] {
  return specs.map((spec) => {
    const { measured, ...rest } = spec;
    if (typeof measured !== 'number' || !Number.isFinite(measured)) {
      const reason = measured && typeof measured === 'object' ? measured.reason : 'not measured in this run';
      return { ...rest, measured: null, met: null, reason };
    }
    return { ...rest, measured, met: compare(measured, spec.comparison, spec.bound) };
  });
}

function compare(value: number, comparison: Comparison, bound: number): boolean {
  switch (comparison) {
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>=':
      return value >= bound;
    case '=':
      return value === bound;
  }
}

/** `< 20 ms`, `≤ 1.05`, … */
export function describeBound(row: Pick<TargetRow, 'comparison' | 'bound' | 'unit'>): string {
  const symbol = { '<': '<', '<=': '≤', '>=': '≥', '=': '=' }[row.comparison];
  return `${symbol} ${row.bound}${row.unit ? ` ${row.unit}` : ''}`;
}

/** `met`, `MISSED` or `n/a (why)`. */
export function describeVerdict(row: TargetRow): string {
  if (row.met === null) return `n/a (${row.reason ?? 'not measured'})`;
  return row.met ? 'met' : 'MISSED';
}
