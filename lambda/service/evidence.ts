import { FailureClass, isFailureClass } from '../../policy/failure-class';
import type { RetryPolicy } from '../../policy/policy';
import { BuiltInRule } from '../../policy/policy';
import { needsClassification } from '../../policy/rules';
import type { SameTestsFailure } from '../domain/decision';
import type { ActionClasses } from '../domain/filters';
import { type FailureRecord, failureRecordOf } from '../domain/ledger';
import type { StageRef } from '../domain/refs';
import { StageStatus, type StageView } from '../domain/types';
import type { ServiceDeps } from './service-settings';

/**
 * The providers' evidence as the decision takes it, and the gate in front of the classifier: the
 * classifier and its provider reads (failure-classes.ts) are loaded on first use, so a cold start
 * of a deployment without class rules loads neither (in the bundle, a chunk of its own).
 */

/** True in the function's bundle (esbuild's `define`), where a module loaded on first use is a chunk of its own. */
declare const AUTORETRY_BUNDLE: boolean | undefined;

const loadFailureClasses = (): Promise<typeof import('./failure-classes')> =>
  typeof AUTORETRY_BUNDLE !== 'undefined' && AUTORETRY_BUNDLE
    ? import('./failure-classes')
    : Promise.resolve(require('./failure-classes') as typeof import('./failure-classes'));

/** What the decision gets from the providers: why each failed action failed, and whether the same tests failed again. */
export interface ProviderEvidence {
  readonly classes?: ActionClasses;
  readonly sameTests?: SameTestsFailure;
}

/** What decides whether providers are asked: the live stage, its policy, and what our earlier retries re-ran. */
export interface EvidenceNeeds {
  readonly view: StageView;
  readonly policy: RetryPolicy;
  /** The fingerprints of the failed runs our retries of earlier occurrences re-ran (the ledger record's). */
  readonly retried: readonly string[];
  readonly classifyAll: boolean;
}

/**
 * What a claim or skip records of the evidence: the class and evidence of the action that
 * decided (the one whose tests failed twice, else the first that says more than `unknown`, else
 * the first), and every action's failed tests.
 */
export function failureRecordOfEvidence(evidence: ProviderEvidence): FailureRecord {
  const all = [...(evidence.classes?.entries() ?? [])];
  if (all.length === 0) return {};
  const chosen =
    all.find(([name]) => name === evidence.sameTests?.action) ?? all.find(([, c]) => c.class !== FailureClass.Unknown) ?? all[0];
  const failedTests = all.flatMap(([, c]) => c.failedTests ?? []);
  // An action whose provider could not be read has no class to keep.
  const read = all.filter(([, c]) => c.unread !== true);
  return failureRecordOf({
    ...(chosen ? { failureClass: chosen[1].class, evidence: chosen[1].evidence } : {}),
    ...(failedTests.length > 0 ? { failedTests } : {}),
    ...(read.length > 0 ? { actionClasses: Object.fromEntries(read.map(([name, c]) => [name, c.class])) } : {}),
  });
}

/**
 * The evidence of a retry that waited, judged again at its due time: an action whose provider
 * cannot be read now keeps the class the claim recorded for it when the retry was scheduled
 * (`actionClasses`; a claim from before them has only `failureClass`, which stands for a stage
 * with one failed action), as long as the stage still shows the failed runs the claim was made
 * for (a failed run's class does not change). A provider that throttles delays the
 * classification, never the retry.
 */
export function withRecordedClasses(evidence: ProviderEvidence, recorded: FailureRecord, sameRuns: boolean): ProviderEvidence {
  if (!sameRuns || evidence.classes === undefined) return evidence;
  // A claim written before claims kept each action's class has the stage's class: that of its one
  // failed action (unless unknown, which then did not tell a provider not read from one that said nothing).
  const [only, ...others] = [...evidence.classes.keys()];
  const kept =
    recorded.actionClasses ??
    (only !== undefined && others.length === 0 && recorded.failureClass !== undefined && recorded.failureClass !== FailureClass.Unknown
      ? { [only]: recorded.failureClass }
      : undefined);
  if (kept === undefined) return evidence;
  let changed = false;
  const classes = new Map(
    [...evidence.classes].map(([name, c]) => {
      const then = kept[name];
      if (c.unread !== true || then === undefined || !isFailureClass(then)) return [name, c] as const;
      changed = true;
      return [name, { class: then, evidence: `${then} as read when the retry was scheduled; at its due time ${c.evidence}` }] as const;
    }),
  );
  return changed ? { ...evidence, classes } : evidence;
}

/**
 * Asks the classifier only when a decision may need it: a policy with a class rule, a deployment
 * that classifies everything, or a failure after one of our retries (same-tests-failed). The
 * classifier (with its cache) is made once per instance, on first need.
 */
export class ProviderEvidenceGate {
  private classes: Promise<import('./failure-classes').FailureClasses> | undefined;

  public constructor(private readonly deps: ServiceDeps) {}

  public async forDecision(ref: StageRef, needs: EvidenceNeeds): Promise<ProviderEvidence> {
    if (!mayNeedEvidence(needs.view, needs.policy, needs)) return {};
    this.classes ??= loadFailureClasses().then(({ FailureClasses }) => new FailureClasses(this.deps));
    return (await this.classes).forDecision(ref, needs);
  }
}

/** Whether the classifier could have anything to say (it checks the rest itself). */
function mayNeedEvidence(view: StageView, policy: RetryPolicy, needs: Pick<EvidenceNeeds, 'retried' | 'classifyAll'>): boolean {
  if (view.status !== StageStatus.Failed) return false;
  if (needs.classifyAll || needsClassification(policy)) return true;
  return needs.retried.length > 0 && !policy.overrideBuiltIns.includes(BuiltInRule.SameTestsFailed);
}
