import { TRANSIENT_CLASSES } from '../policy/failure-class';
import type { FailureClassName, FailureRuleProps } from './props';

/**
 * Ready-made failure filters for `retryOn` (and `neverRetryOn`). A class of static methods, so
 * that every jsii language has the preset: props cannot take cdk.json's string-or-list.
 *
 * @example
 * retryOn: RetryOn.transientFailures(),
 * neverRetryOn: RetryOn.failureClasses(FailureClassName.TEST, FailureClassName.PERMISSION),
 */
export class RetryOn {
  /**
   * The preset "transient": failures a retry can cure (infrastructure, timeout, throttled), as one
   * rule. Combine it with rules of your own by spreading it into a list.
   */
  public static transientFailures(): FailureRuleProps[] {
    return [{ failureClasses: TRANSIENT_CLASSES.map((c) => c as FailureClassName) }];
  }

  /** One rule matching any of the given failure classes. */
  public static failureClasses(...classes: FailureClassName[]): FailureRuleProps[] {
    return [{ failureClasses: [...classes] }];
  }

  private constructor() {}
}
