import { Duration } from 'aws-cdk-lib';
import { parseAutoRetryConfig } from '../../../lib/config';
import { resolveProps } from '../../../lib/policies';
import { type PipelineAutoRetryProps, RetryJitter, StageRetryMode } from '../../../lib/props';
import { ConfigurationError } from '../../../policy/errors';

function problemsOf(props: PipelineAutoRetryProps): readonly string[] {
  try {
    resolveProps(props);
  } catch (error) {
    if (error instanceof ConfigurationError) return error.problems;
    throw error;
  }
  return [];
}

describe('Function: resolveProps', () => {
  it('turns props into the policies the deploy writes, durations in seconds', () => {
    // Act
    const resolved = resolveProps({
      watchedPipelines: ['web-app'],
      defaultPolicy: { maxRetries: 2, cooldown: Duration.minutes(1), jitter: RetryJitter.FULL },
      pipelines: {
        'web-app': {
          budget: { maxRetries: 10, window: Duration.hours(1) },
          stages: {
            Deploy: { retryMode: StageRetryMode.ALL_ACTIONS, retryOn: [{ provider: ['CloudFormation'], message: 'Rate exceeded' }] },
          },
        },
      },
      ledgerRetention: Duration.days(7),
    });

    // Assess
    expect(resolved).toEqual({
      watch: ['web-app'],
      ledgerRetentionDays: 7,
      emails: [],
      slack: undefined,
      exhaustedPerHour: 5,
      metricPipelines: ['web-app'],
      reservedConcurrency: 10,
      codePipelineRequestsPerSecond: 10,
      classifyAllFailures: false,
      names: {
        centralBus: 'codepipeline-auto-retry',
        centralRole: 'codepipeline-auto-retry-central',
        memberRoleBase: 'codepipeline-auto-retry-member',
      },
      policies: [
        { scope: { kind: 'default' }, patch: { maxRetries: 2, cooldownSeconds: 60, jitter: 'full' } },
        { scope: { kind: 'pipeline', pipeline: 'web-app' }, patch: { budget: { maxRetries: 10, windowSeconds: 3600 } } },
        {
          scope: { kind: 'stage', pipeline: 'web-app', stage: 'Deploy' },
          patch: { retryMode: 'ALL_ACTIONS', retryOn: [{ provider: ['CloudFormation'], message: 'Rate exceeded' }] },
        },
      ],
    });
  });

  it('resolves cdk.json configuration to the same policies it names', () => {
    // Prepare
    const props = parseAutoRetryConfig({
      default: { cooldown: '5m', backoff: 2 },
      pipelines: { api: { stages: { Test: { maxRetries: 0 } } } },
    });

    // Act
    const { policies, watch } = resolveProps(props);

    // Assess
    expect(watch).toBe('all');
    expect(policies).toEqual([
      { scope: { kind: 'default' }, patch: { cooldownSeconds: 300, backoff: 2 } },
      { scope: { kind: 'stage', pipeline: 'api', stage: 'Test' }, patch: { maxRetries: 0 } },
    ]);
  });

  it.each<[string, PipelineAutoRetryProps, string]>([
    [
      'a cooldown over 12 hours',
      { defaultPolicy: { cooldown: Duration.hours(13) } },
      'props.defaultPolicy.cooldown must be a duration from 0 to 12h',
    ],
    ['a fractional cooldown', { defaultPolicy: { cooldown: Duration.millis(1500) } }, 'props.defaultPolicy.cooldown must be a duration'],
    ['an empty watch list', { watchedPipelines: [] }, 'props.watchedPipelines must name at least one pipeline'],
    [
      'a budget on a stage',
      { pipelines: { a: { stages: { T: { budget: { maxRetries: 1, window: Duration.hours(1) } } } } } },
      'props.pipelines.a.stages.T.budget is per pipeline',
    ],
    [
      'a ledger retention of part of a day',
      { ledgerRetention: Duration.hours(36) },
      'props.ledgerRetention (in days) must be an integer from 1 to 3650, got 1.5',
    ],
    ['a bad email', { notifications: { emails: ['nobody'] } }, 'props.notifications.emails[0] must be an email address, got "nobody"'],
  ])('refuses %s, naming the prop', (_case, props, expected) => {
    // Act
    const problems = problemsOf(props);

    // Assess
    expect(problems).toEqual([expect.stringContaining(expected)]);
  });
});
