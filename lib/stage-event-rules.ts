import * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { EVENT_SOURCE, STAGE_DETAIL_TYPE } from '../contract';

/** EventBridge's default limit on an event pattern's size, in characters. */
export const EVENT_PATTERN_LIMIT = 2048;

/**
 * Splits a watch list into groups whose event pattern stays under EventBridge's limit, so a long
 * list is several rules instead of a deploy that fails. `patternOf` renders a group's pattern.
 */
export function chunkForPatterns(pipelines: readonly string[], patternOf: (group: readonly string[]) => unknown): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  for (const pipeline of pipelines) {
    const candidate = [...current, pipeline];
    if (current.length > 0 && JSON.stringify(patternOf(candidate)).length > EVENT_PATTERN_LIMIT) {
      groups.push(current);
      current = [pipeline];
    } else {
      current = candidate;
    }
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The stage events the product acts on, as the `detail` of an event pattern. */
export const StageEvents = {
  failed: { state: ['FAILED'] },
  /**
   * Successes matter only after a retry (to count recoveries); CodePipeline marks those events
   * with stage-last-retry-attempt-time, so every other success costs nothing.
   */
  succeededAfterRetry: { state: ['SUCCEEDED'], 'stage-last-retry-attempt-time': [{ exists: true }] },
} as const;

export interface StageEventRulesProps {
  /** The first rule's id; further ones get 2, 3, … */
  readonly id: string;
  readonly description: string;
  readonly watch: 'all' | readonly string[];
  /** One of StageEvents. */
  readonly detail: Record<string, unknown>;
  readonly target: events.IRuleTarget;
  /** @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** Only events of these accounts. @default any account the bus delivers */
  readonly accounts?: readonly string[];
}

/**
 * Rules for stage events from the watched pipelines, to one target. A watch list too long for one
 * event pattern (EventBridge's 2,048-character limit) is split over several rules, so the deploy
 * cannot fail on it.
 */
export function stageEventRules(scope: Construct, props: StageEventRulesProps): events.Rule[] {
  const { id, description, watch, detail, target, eventBus, accounts } = props;
  const pattern = (pipelines: readonly string[] | undefined) => ({
    source: [EVENT_SOURCE],
    'detail-type': [STAGE_DETAIL_TYPE],
    detail: { ...detail, pipeline: pipelines && [...pipelines] },
    account: accounts && [...accounts],
  });
  const groups = watch === 'all' ? [undefined] : chunkForPatterns(watch, pattern);
  return groups.map((group, i) => {
    const rule = new events.Rule(scope, i === 0 ? id : `${id}${i + 1}`, {
      description: groups.length > 1 ? `${description} (${i + 1} of ${groups.length})` : description,
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [STAGE_DETAIL_TYPE],
        detail: pattern(group).detail,
        account: accounts && [...accounts],
      },
      eventBus,
    });
    rule.addTarget(target);
    return rule;
  });
}
