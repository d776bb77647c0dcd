import { parseDelayedRetry, parseStageFailedEvent, serializeDelayedRetry } from '../../../../lambda/domain/events';
import { InvalidInputError } from '../../../../policy/errors';
import { loadEvent } from '../../../support';

describe('Function: parseStageFailedEvent', () => {
  it('reads the documented FAILED event, numbers such as 7.0 included', () => {
    // Act
    const failure = parseStageFailedEvent(loadEvent('stage-failed'));

    // Assess
    expect(failure).toEqual({
      eventId: '6a1c0c0e-5b2d-4e8a-9d0e-0c5a1b2c3d4e',
      account: '123456789012',
      region: 'us-east-1',
      pipeline: 'web-app',
      stage: 'Test',
      executionId: '1b2c3d4e-5f60-4718-89ab-cdef01234567',
      occurrence: 1,
      pipelineVersion: 7,
      failedAt: new Date('2026-03-01T10:15:02Z'),
    });
  });

  it.each<[string, unknown, number | undefined]>([
    ['a number such as 2.0', 2.0, 2],
    ['a numeric string', '3', 3],
    ['a numeric string such as "1.0"', '1.0', 1],
    ['zero', 0, 0],
    ['null, left for the service to name by the failed actions', null, undefined],
    ['nothing, left for the service to name by the failed actions', undefined, undefined],
  ])('reads a pipeline-execution-attempt of %s', (_case, value, occurrence) => {
    // Prepare
    const event = loadEvent('stage-failed');
    if (value === undefined) delete event.detail['pipeline-execution-attempt'];
    else event.detail['pipeline-execution-attempt'] = value;

    // Act
    const failure = parseStageFailedEvent(event);

    // Assess
    expect(failure.occurrence).toBe(occurrence);
  });

  it.each([
    ['stage-succeeded', 'event.detail.state must be FAILED'],
    ['action-failed', 'event.detail-type must be "CodePipeline Stage Execution State Change"'],
  ])('refuses the %s fixture with a message naming the field', (fixture, message) => {
    expect(() => parseStageFailedEvent(loadEvent(fixture))).toThrow(new InvalidInputError(message));
  });

  it.each<[string, (e: ReturnType<typeof loadEvent>) => void, string]>([
    [
      'detail.pipeline',
      (e) => {
        e.detail.pipeline = '';
      },
      'event.detail.pipeline must be a non-empty string of at most 100 characters',
    ],
    [
      'detail.stage',
      (e) => {
        e.detail.stage = 'Test Stage';
      },
      'event.detail.stage is not a valid CodePipeline name',
    ],
    [
      'detail.version',
      (e) => {
        e.detail.version = '7';
      },
      'event.detail.version must be a number',
    ],
    [
      'detail.pipeline-execution-attempt',
      (e) => {
        e.detail['pipeline-execution-attempt'] = 1.5;
      },
      'event.detail.pipeline-execution-attempt must be a whole number of attempts, got 1.5',
    ],
    [
      'detail.pipeline-execution-attempt string',
      (e) => {
        e.detail['pipeline-execution-attempt'] = 'first';
      },
      'event.detail.pipeline-execution-attempt must be a whole number of attempts, got "first"',
    ],
    [
      'time',
      (e) => {
        e.time = 'not a time';
      },
      'event.time is not a timestamp',
    ],
    [
      'account',
      (e) => {
        delete e.account;
      },
      'event.account must be a non-empty string of at most 32 characters',
    ],
  ])('refuses a bad %s', (_field, mutate, message) => {
    // Prepare
    const event = loadEvent('stage-failed');
    mutate(event);

    // Act / Assess
    expect(() => parseStageFailedEvent(event)).toThrow(new InvalidInputError(message));
  });
});

describe('Function: parseDelayedRetry', () => {
  it('reads back what serializeDelayedRetry wrote', () => {
    // Prepare
    const failure = { ...parseStageFailedEvent(loadEvent('stage-failed')), occurrence: 1 };
    const message = { v: 1 as const, kind: 'claim' as const, dueAt: new Date('2026-03-01T12:15:02Z'), failure };

    // Act / Assess
    expect(parseDelayedRetry(serializeDelayedRetry(message))).toEqual(message);
  });

  it.each([
    ['not json', 'delay-queue message body is not JSON'],
    ['{"v":2}', 'delay-queue message must be an object with v: 1'],
    ['{"v":1}', 'delay-queue message.failure must be an object'],
    [
      '{"v":1,"dueAt":"2026-03-01T12:15:02Z","failure":{"pipeline":"a"}}',
      'message.failure.eventId must be a non-empty string of at most 256 characters',
    ],
  ])('refuses %s', (body, message) => {
    expect(() => parseDelayedRetry(body)).toThrow(InvalidInputError);
    expect(() => parseDelayedRetry(body)).toThrow(message);
  });
});
