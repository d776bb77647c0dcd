import { ACCOUNT_PATTERN, accountPipeline } from '../contract';
import { InvalidInputError } from './errors';
import { NAME_PATTERN, type PolicyPatch } from './policy';

/**
 * Which policy a layer is: the default, an account's defaults, a pipeline's or a stage's. A
 * pipeline or stage policy with an `account` applies to the pipeline of that name in that
 * account only; without one, to the pipeline of that name in every account.
 */
export type PolicyScope =
  | { readonly kind: 'default' }
  | { readonly kind: 'account'; readonly account: string }
  | { readonly kind: 'pipeline'; readonly pipeline: string; readonly account?: string | undefined }
  | { readonly kind: 'stage'; readonly pipeline: string; readonly stage: string; readonly account?: string | undefined };

/** One policy from configuration, to be written to the table. */
export interface PolicySeed {
  readonly scope: PolicyScope;
  readonly patch: PolicyPatch;
}

/** What a policy is written for, as cdk.json keys and the CLI spell it: `web-app`, `123456789012/web-app` or `account:123456789012`. */
export type PolicyTarget =
  | { readonly account: string; readonly pipeline?: undefined }
  | { readonly pipeline: string; readonly account?: string };

/** Reads a policy target; throws InvalidInputError naming what is wrong. */
export function parsePolicyTarget(text: string, what: string): PolicyTarget {
  const quoted = JSON.stringify(text.slice(0, 120));
  if (text.startsWith('account:')) {
    const account = text.slice('account:'.length);
    if (!ACCOUNT_PATTERN.test(account)) throw new InvalidInputError(`${what} ${quoted}: an account is 12 digits (account:123456789012)`);
    return { account };
  }
  const [account, pipeline, ...rest] = text.split('/');
  if (account !== undefined && pipeline !== undefined && rest.length === 0 && ACCOUNT_PATTERN.test(account)) {
    if (!NAME_PATTERN.test(pipeline)) {
      throw new InvalidInputError(`${what} ${quoted}: after '/' comes a pipeline name ([A-Za-z0-9.@-_], 1-100)`);
    }
    return { account, pipeline };
  }
  if (!NAME_PATTERN.test(text)) {
    throw new InvalidInputError(
      `${what} ${quoted} is not a valid CodePipeline name; for one account write <account>/<pipeline>, for an account's defaults account:<account>`,
    );
  }
  return { pipeline: text };
}

/** How a target is written back (the inverse of parsePolicyTarget). */
export function targetLabel(scope: Exclude<PolicyScope, { kind: 'default' }>): string {
  if (scope.kind === 'account') return `account:${scope.account}`;
  return accountPipeline(scope.pipeline, scope.account);
}

export function describeScope(scope: PolicyScope): string {
  switch (scope.kind) {
    case 'default':
      return 'the default policy';
    case 'account':
      return `account ${scope.account}`;
    case 'pipeline':
      return `pipeline ${targetLabel(scope)}`;
    case 'stage':
      return `stage ${targetLabel(scope)}/${scope.stage}`;
  }
}
