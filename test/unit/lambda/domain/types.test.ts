import { type ActionRun, failedActionsRanAgain, fingerprintEntries, lagsBehind } from '../../../../lambda/domain/types';
import { FAKE_EXECUTION, FAKE_NOW, failedStage, stageFailure } from '../../../support/fakes';

const FAILED_AT = FAKE_NOW;
const EXECUTION = FAKE_EXECUTION;
const earlier = (seconds: number) => new Date(FAILED_AT.getTime() - seconds * 1000);
const later = (seconds: number) => new Date(FAILED_AT.getTime() + seconds * 1000);
const failure = (occurrence = 2) => stageFailure({ occurrence });

describe('Function: lagsBehind', () => {
  it.each([
    [
      'lags when the read still shows our retry running, nothing changed since the failure, one retry counted before it',
      failedStage(
        EXECUTION,
        { status: 'InProgress', retryMetadata: { automatic: 0, manual: 1 } },
        { status: 'InProgress', changedAt: earlier(600) },
      ),
      2,
      true,
    ],
    [
      'lags when the read shows no run of the stage at all',
      failedStage(EXECUTION, { status: undefined, latestExecutionId: undefined }, {}),
      1,
      true,
    ],
    [
      'is current when a retry began after the failure (the action changed since)',
      failedStage(
        EXECUTION,
        { status: 'InProgress', retryMetadata: { automatic: 0, manual: 2 } },
        { status: 'InProgress', changedAt: later(5) },
      ),
      2,
      false,
    ],
    [
      'is current when CodePipeline counts more retries than came before the failure',
      failedStage(
        EXECUTION,
        { status: 'InProgress', retryMetadata: { automatic: 0, manual: 2 } },
        { status: 'InProgress', changedAt: earlier(60) },
      ),
      2,
      false,
    ],
    ['is current when the stage shows the failure', failedStage(EXECUTION, {}, { changedAt: FAILED_AT }), 2, false],
    [
      'is current when a newer execution owns the stage',
      failedStage('another', { status: 'InProgress' }, { status: 'InProgress', changedAt: earlier(60) }),
      2,
      false,
    ],
    [
      'is current when the stage was stopped',
      failedStage(EXECUTION, { status: 'Stopped' }, { status: 'Abandoned', changedAt: earlier(60) }),
      2,
      false,
    ],
    [
      'lags when the event has no attempt number and nothing changed since the failure',
      failedStage(
        EXECUTION,
        { status: 'InProgress', retryMetadata: { automatic: 0, manual: 5 } },
        { status: 'InProgress', changedAt: earlier(60) },
      ),
      1_000_000_123,
      true,
    ],
  ])('%s', (_case, view, occurrence, expected) => {
    // Act
    const lagging = lagsBehind(failure(occurrence), view);

    // Assess
    expect(lagging).toBe(expected);
  });
});

describe('Function: lagsBehind, a read that still shows the failure our retry re-ran', () => {
  it.each([
    ['lags when the failed action executions are the ones an earlier retry of ours re-ran', ['UnitTests:action-1'], true],
    ['is current when they are not', ['UnitTests:action-0'], false],
    ['is current when none of ours ran before', [], false],
  ])('%s', (_case, retried, expected) => {
    // Act
    const lagging = lagsBehind(failure(2), failedStage(EXECUTION, {}, { changedAt: FAILED_AT }), retried);

    // Assess
    expect(lagging).toBe(expected);
  });
});

describe('Function: failedActionsRanAgain', () => {
  const claimedAt = FAILED_AT;
  const run = (actionName: string, actionExecutionId: string, startedAt: Date): ActionRun => ({ actionName, actionExecutionId, startedAt });

  it.each<[string, string, ActionRun[], boolean]>([
    [
      'no retry when the failed run is the latest of its action',
      'UnitTests:a-1',
      [run('UnitTests', 'a-1', earlier(300)), run('Lint', 'l-1', earlier(300))],
      false,
    ],
    [
      'a retry when the failed action ran again after its failed run',
      'UnitTests:a-1',
      [run('UnitTests', 'a-2', later(40)), run('UnitTests', 'a-1', earlier(300))],
      true,
    ],
    [
      'no retry when only an action that had not failed ran again',
      'UnitTests:a-1',
      [run('UnitTests', 'a-1', earlier(300)), run('Lint', 'l-2', later(40))],
      false,
    ],
    [
      'a retry when one of two failed actions ran again',
      'Lint:l-1,UnitTests:a-1',
      [run('UnitTests', 'a-1', earlier(300)), run('Lint', 'l-1', earlier(200)), run('Lint', 'l-2', later(10))],
      true,
    ],
    ['a retry when there is no fingerprint and a run began after the claim', '', [run('UnitTests', 'a-2', later(1))], true],
    ['no retry when there is no fingerprint and every run began before the claim', '', [run('UnitTests', 'a-1', earlier(1))], false],
    ['no retry when no runs are listed at all', 'UnitTests:a-1', [], false],
  ])('finds %s', (_case, fingerprint, runs, expected) => {
    // Act
    const ran = failedActionsRanAgain(fingerprint, runs, claimedAt);

    // Assess
    expect(ran).toBe(expected);
  });

  it('reads action names that contain colons from a fingerprint', () => {
    // Act
    const entries = fingerprintEntries('Deploy:eu:x-1,Unit:a-1');

    // Assess
    expect(entries).toEqual([
      { action: 'Deploy:eu', executionId: 'x-1' },
      { action: 'Unit', executionId: 'a-1' },
    ]);
  });
});
