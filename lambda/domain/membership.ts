import type { Location } from '../../contract';

/** Which accounts and regions an organization deployment serves, besides its own. */
export interface Membership {
  /** The central stack's account and region. */
  readonly home: Location;
  /** Member accounts, or `*`: any account the central bus admits (its organization). */
  readonly accounts: '*' | readonly string[];
  /** Member regions; undefined means any. */
  readonly regions?: readonly string[] | undefined;
}

/**
 * Why an event from `at` is not ours to handle, or undefined when it is. A single-account
 * deployment (no membership) handles whatever its default bus delivers, as it always did.
 */
export function notServed(membership: Membership | undefined, at: Location): string | undefined {
  if (!membership) return undefined;
  const { home, accounts, regions } = membership;
  if (at.account === home.account && at.region === home.region) return undefined;
  if (accounts !== '*' && !accounts.includes(at.account) && at.account !== home.account) {
    return `account ${at.account} is not a member of this deployment`;
  }
  if (regions && !regions.includes(at.region) && at.region !== home.region) return `region ${at.region} is not served by this deployment`;
  return undefined;
}
