import type { Parameters } from 'fast-check';

/**
 * Property tests run under a time budget of their own, not in a race with jest's timeout: each
 * property stops after PROPERTY_SECONDS (default 20) even if it has not made all its runs, and a
 * single run that hangs fails after 10 s. A property's runs default to a count that fits the
 * budget many times over on a busy 2-core machine; PROPERTY_RUNS sets another count for long
 * runs (e.g. `PROPERTY_RUNS=2000 PROPERTY_SECONDS=600 npx jest test/integration/properties`).
 */
const DEFAULT_SECONDS = 20;
const RUN_TIMEOUT_MS = 10_000;

function fromEnv(name: string): number | undefined {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

export function propertySeconds(): number {
  return fromEnv('PROPERTY_SECONDS') ?? DEFAULT_SECONDS;
}

/** fast-check's parameters for one property: its seed and default run count, bounded in time. */
export function propertyParameters<T>(own: { readonly numRuns: number; readonly seed: number }): Parameters<T> {
  return {
    seed: own.seed,
    numRuns: Math.round(fromEnv('PROPERTY_RUNS') ?? own.numRuns),
    interruptAfterTimeLimit: propertySeconds() * 1000,
    markInterruptAsFailure: false,
    timeout: RUN_TIMEOUT_MS,
  };
}

/** The jest timeout of a test holding one property: its budget, one run that hangs, and setup. */
export function propertyTestTimeout(properties = 1): number {
  return properties * (propertySeconds() * 1000 + RUN_TIMEOUT_MS) + 30_000;
}

/**
 * The fewest runs a property must have made for its "not vacuous" checks to mean anything: all
 * of them, or at least `floor` when the time budget cut it short.
 */
export function enoughRuns(numRuns: number, floor = 20): number {
  return Math.min(Math.round(fromEnv('PROPERTY_RUNS') ?? numRuns), floor);
}
