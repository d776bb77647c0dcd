import { Duration } from 'aws-cdk-lib';
import fc from 'fast-check';
import { propsOfConfig } from '../../../lib/config';
import { resolveProps } from '../../../lib/policies';
import { policyPropsOfSeeds, rawOfPolicyProps } from '../../../lib/policy-mapper';
import { FailureClassName, RetryJitter, StageRetryMode } from '../../../lib/props';
import { RetryOn } from '../../../lib/retry-on';
import { readConfig } from '../../../policy/config';
import { ConfigurationError } from '../../../policy/errors';
import { FAILURE_CLASSES } from '../../../policy/failure-class';
import { enoughRuns, propertyParameters, propertyTestTimeout } from '../../support/properties';

/** A failure class as cdk.json spells it: one word, or a list of them. */
const failureClass = fc.oneof(fc.constantFrom(...FAILURE_CLASSES), fc.subarray([...FAILURE_CLASSES], { minLength: 1 }));

/** A valid list of rules, with or without failure classes. */
const rules = fc.array(
  fc
    .record(
      {
        code: fc.constantFrom(['JobFailed'], ['A', 'B']),
        message: fc.constantFrom('timed out', 'ECONNRESET'),
        class: failureClass,
      },
      { requiredKeys: [] },
    )
    .filter((r) => Object.keys(r).length > 0),
  { minLength: 1, maxLength: 3 },
);

/** A valid policy as cdk.json spells it; `budget` only where a pipeline (or the default) may have one. */
const configPolicy = (withBudget: boolean) =>
  fc.record(
    {
      maxRetries: fc.integer({ min: 0, max: 10 }),
      cooldown: fc.oneof(fc.constantFrom('0', '45s', '5m', '2h'), fc.integer({ min: 0, max: 3600 })),
      backoff: fc.integer({ min: 1, max: 10 }),
      jitter: fc.constantFrom('none', 'spread', 'full'),
      maxRetryWindow: fc.constantFrom('1h', '1d', '7d'),
      retryMode: fc.constantFrom('FAILED_ACTIONS', 'ALL_ACTIONS'),
      mode: fc.constantFrom('enforce', 'observe'),
      retryOn: fc.oneof(fc.constant('transient'), rules),
      neverRetryOn: rules,
      countManualRetries: fc.boolean(),
      overrideBuiltIns: fc.subarray(['approval-rejected', 'stage-stopped']),
      ...(withBudget
        ? { budget: fc.record({ maxRetries: fc.integer({ min: 1, max: 1000 }), window: fc.constantFrom('1m', '1h', '7d') }) }
        : {}),
    },
    { requiredKeys: [] },
  );

const names = fc.constantFrom('web-app', 'api', 'payments', 'infra.core');
const accounts = fc.constantFrom('222222222222', '333333333333');

const config = fc.record(
  {
    default: configPolicy(true),
    accounts: fc.dictionary(accounts, configPolicy(false), { maxKeys: 2 }),
    pipelines: fc.dictionary(
      fc.oneof(
        names,
        fc.tuple(accounts, names).map(([a, p]) => `${a}/${p}`),
      ),
      fc
        .tuple(configPolicy(true), fc.dictionary(fc.constantFrom('Build', 'Test', 'Deploy'), configPolicy(false), { maxKeys: 3 }))
        .map(([own, stages]) => (Object.keys(stages).length > 0 ? { ...own, stages } : own)),
      { maxKeys: 4 },
    ),
  },
  { requiredKeys: [] },
);

describe('Module: policy-mapper', () => {
  it(
    'turns any valid cdk.json into props whose policies are the very seeds cdk.json names',
    () => {
      // Prepare
      let runs = 0;

      // Act / Assess
      fc.assert(
        fc.property(config, (raw) => {
          runs += 1;
          const read = readConfig(raw);
          expect(read.problems).toEqual([]);
          expect(resolveProps(propsOfConfig(read)).policies).toEqual(read.seeds);
        }),
        propertyParameters({ numRuns: 300, seed: 2112 }),
      );
      expect(runs).toBeGreaterThanOrEqual(enoughRuns(300));
    },
    propertyTestTimeout(),
  );

  it('keeps a pipeline named without a policy of its own, for its metric dimension', () => {
    // Act
    const props = policyPropsOfSeeds([], ['web-app']);

    // Assess
    expect(props.pipelines).toEqual({ 'web-app': {} });
    expect(resolveProps(props).metricPipelines).toEqual(['web-app']);
  });

  it('reads props durations as seconds under the cdk.json keys, leaving nothing undefined', () => {
    // Act
    const raw = rawOfPolicyProps({
      cooldown: Duration.minutes(2),
      jitter: RetryJitter.FULL,
      retryMode: StageRetryMode.ALL_ACTIONS,
      budget: { maxRetries: 3, window: Duration.hours(1) },
      maxCooldown: undefined,
    });

    // Assess
    expect(raw).toStrictEqual({ cooldown: 120, jitter: 'full', retryMode: 'ALL_ACTIONS', budget: { maxRetries: 3, window: 3600 } });
  });

  it('reads class rules from props as failureClasses, and gives them back so', () => {
    // Prepare
    const props = {
      defaultPolicy: {
        retryOn: RetryOn.transientFailures(),
        neverRetryOn: RetryOn.failureClasses(FailureClassName.TEST, FailureClassName.PERMISSION),
      },
      pipelines: { 'web-app': { retryOn: [{ failureClasses: [FailureClassName.TIMEOUT], provider: ['CodeBuild'] }] } },
    };

    // Act
    const seeds = resolveProps(props).policies;

    // Assess
    expect(seeds).toEqual([
      {
        scope: { kind: 'default' },
        patch: { retryOn: [{ class: ['infrastructure', 'timeout', 'throttled'] }], neverRetryOn: [{ class: ['test', 'permission'] }] },
      },
      {
        scope: { kind: 'pipeline', pipeline: 'web-app', account: undefined },
        patch: { retryOn: [{ class: ['timeout'], provider: ['CodeBuild'] }] },
      },
    ]);
    expect(policyPropsOfSeeds(seeds)).toEqual(props);
  });

  it('names a bad class by the props key that holds it', () => {
    // Prepare
    const props = { defaultPolicy: { retryOn: [{ failureClasses: ['flaky' as FailureClassName] }] } };

    // Act / Assess
    expect(() => resolveProps(props)).toThrow(ConfigurationError);
    expect(() => resolveProps(props)).toThrow(
      /props\.defaultPolicy\.retryOn\[0\]\.failureClasses has "flaky", which is not a failure class/,
    );
  });

  it('spells every failure class of the policy language, and no other, in FailureClassName', () => {
    // Assess
    expect(Object.values(FailureClassName)).toEqual(FAILURE_CLASSES);
  });
});
