/**
 * The arithmetic of a per-pipeline retry budget (a circuit breaker over a rolling window): the
 * retries taken, as retry id → epoch milliseconds, of which only those inside the window count.
 */
export type BudgetStamps = Readonly<Record<string, number>>;

/** The stamps still inside the window that ends at `now`. */
export function pruneStamps(stamps: BudgetStamps, now: Date, windowSeconds: number): Record<string, number> {
  const since = now.getTime() - windowSeconds * 1000;
  return Object.fromEntries(Object.entries(stamps).filter(([, at]) => at > since));
}

/** When the oldest retry in the window leaves it, and the circuit closes. */
export function budgetReopensAt(stamps: BudgetStamps, windowSeconds: number): Date {
  return new Date(Math.min(...Object.values(stamps)) + windowSeconds * 1000);
}
