import {
  type CodePipelineClient,
  CodePipelineServiceException,
  ConcurrentPipelineExecutionsLimitExceededException,
  ConflictException,
  NotLatestPipelineExecutionException,
  PipelineNotFoundException,
  StageNotFoundException,
  StageNotRetryableException,
  ValidationException,
} from '@aws-sdk/client-codepipeline';
import { CodePipelineAdapter } from '../../../../lambda/adapters/code-pipeline-adapter';
import { classifyRetryError } from '../../../../lambda/adapters/code-pipeline-errors';
import { UNPACED } from '../../../../lambda/adapters/shared-rate';
import { MemberRoleError, RoleThrottledError, ThrottledError, TransientFaultError } from '../../../../lambda/domain/errors';
import { RetryCallResult } from '../../../../lambda/ports';

const REF = { account: '123456789012', region: 'us-east-1', pipeline: 'web-app', stage: 'Test', executionId: 'e-1' };
const meta = { $metadata: {}, message: 'refused' };

/** A client whose every call answers `answer` (or throws it), recording the commands it was sent. */
function client(answer: (command: object) => unknown) {
  const sent: { name: string; input: unknown }[] = [];
  const c = {
    send: async (command: { input: unknown }) => {
      sent.push({ name: command.constructor.name, input: command.input });
      const out = answer(command);
      if (out instanceof Error) throw out;
      return out;
    },
  } as unknown as CodePipelineClient;
  return { c, sent };
}

function throttling(): CodePipelineServiceException {
  return new CodePipelineServiceException({
    name: 'ThrottlingException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message: 'slow down',
  });
}

function serverError(): CodePipelineServiceException {
  return new CodePipelineServiceException({
    name: 'InternalFailure',
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
    message: 'oops',
  });
}

describe('Class: CodePipelineAdapter', () => {
  describe('Function: classifyRetryError', () => {
    it.each<[string, unknown, RetryCallResult]>([
      ['StageNotRetryableException', new StageNotRetryableException(meta), RetryCallResult.NotRetryable],
      ['NotLatestPipelineExecutionException', new NotLatestPipelineExecutionException(meta), RetryCallResult.NotLatest],
      ['ConflictException', new ConflictException(meta), RetryCallResult.Busy],
      [
        'ConcurrentPipelineExecutionsLimitExceededException',
        new ConcurrentPipelineExecutionsLimitExceededException(meta),
        RetryCallResult.Busy,
      ],
      ['PipelineNotFoundException', new PipelineNotFoundException(meta), RetryCallResult.Permanent],
      ['StageNotFoundException', new StageNotFoundException(meta), RetryCallResult.Permanent],
      ['ValidationException', new ValidationException(meta), RetryCallResult.Permanent],
      ['ThrottlingException', throttling(), RetryCallResult.Throttled],
      ['a 5xx', serverError(), RetryCallResult.Ambiguous],
      ['a dropped connection', Object.assign(new Error('socket hang up'), { name: 'ECONNRESET' }), RetryCallResult.Ambiguous],
    ])('reads %s as %s', (_case, error, result) => {
      // Act
      const outcome = classifyRetryError(error);

      // Assess
      expect(outcome.result).toBe(result);
    });
  });

  describe('Method: retryStage', () => {
    it('sends RetryStageExecution for the ref’s stage execution, once, through the client that never resends', async () => {
      // Prepare
      const reads = client(() => ({}));
      const retries = client(() => ({ pipelineExecutionId: 'e-1' }));
      const adapter = new CodePipelineAdapter(reads.c, retries.c, UNPACED);

      // Act
      const outcome = await adapter.retryStage(REF, 'ALL_ACTIONS');

      // Assess
      expect(outcome).toEqual({ result: RetryCallResult.Started });
      expect(reads.sent).toEqual([]);
      expect(retries.sent).toEqual([
        {
          name: 'RetryStageExecutionCommand',
          input: { pipelineName: 'web-app', stageName: 'Test', pipelineExecutionId: 'e-1', retryMode: 'ALL_ACTIONS' },
        },
      ]);
    });

    it('answers an unclear outcome, never "not started", when the call fails with a 5xx', async () => {
      // Prepare
      const failing = client(() => serverError());
      const adapter = new CodePipelineAdapter(failing.c, failing.c, UNPACED);

      // Act
      const outcome = await adapter.retryStage(REF, 'FAILED_ACTIONS');

      // Assess
      expect(outcome).toEqual({ result: RetryCallResult.Ambiguous, error: 'InternalFailure', message: 'oops' });
    });

    it('answers throttled, a call never sent, when STS throttled the member role the call needs', async () => {
      // Prepare: the SDK client's credential provider fails before anything is sent.
      const noCredentials = client(() => new RoleThrottledError('STS throttled AssumeRole of arn:aws:iam::210987654321:role/m'));
      const adapter = new CodePipelineAdapter(noCredentials.c, noCredentials.c, UNPACED);

      // Act
      const outcome = await adapter.retryStage(REF, 'FAILED_ACTIONS');

      // Assess
      expect(outcome).toEqual({
        result: RetryCallResult.Throttled,
        error: 'RoleThrottledError',
        message: 'STS throttled AssumeRole of arn:aws:iam::210987654321:role/m',
      });
    });

    it('lets a member role that cannot be assumed escape: the member stack needs fixing', async () => {
      // Prepare
      const noRole = client(() => new MemberRoleError('cannot assume the member role'));
      const adapter = new CodePipelineAdapter(noRole.c, noRole.c, UNPACED);

      // Act / Assess
      await expect(adapter.retryStage(REF, 'FAILED_ACTIONS')).rejects.toBeInstanceOf(MemberRoleError);
    });
  });

  describe('Method: getStage', () => {
    it.each<[string, () => unknown, string | (new (...args: never[]) => Error)]>([
      ['a missing pipeline is no-pipeline', () => new PipelineNotFoundException(meta), 'no-pipeline'],
      ['a missing stage is no-stage', () => ({ pipelineVersion: 1, stageStates: [{ stageName: 'Build' }] }), 'no-stage'],
      ['throttling is a ThrottledError', throttling, ThrottledError],
      ['any other fault is a TransientFaultError', serverError, TransientFaultError],
    ])('reads the state: %s', async (_case, answer, expected) => {
      // Prepare
      const reads = client(answer);
      const adapter = new CodePipelineAdapter(reads.c, reads.c, UNPACED);

      // Act
      const lookup = adapter.getStage(REF);

      // Assess
      if (typeof expected === 'string') await expect(lookup).resolves.toEqual({ kind: expected });
      else await expect(lookup).rejects.toBeInstanceOf(expected);
    });

    it('joins the live state with the action types of the pipeline’s structure', async () => {
      // Prepare
      const reads = client((command) =>
        command.constructor.name === 'GetPipelineStateCommand'
          ? {
              pipelineVersion: 3,
              stageStates: [
                {
                  stageName: 'Test',
                  latestExecution: { pipelineExecutionId: 'e-1', status: 'Failed' },
                  actionStates: [
                    {
                      actionName: 'UnitTests',
                      latestExecution: { status: 'Failed', actionExecutionId: 'a-1', errorDetails: { code: 'JobFailed', message: 'boom' } },
                    },
                  ],
                  retryStageMetadata: { manualStageRetryAttempt: 2 },
                },
              ],
            }
          : {
              pipeline: {
                stages: [{ name: 'Test', actions: [{ name: 'UnitTests', actionTypeId: { category: 'Test', provider: 'CodeBuild' } }] }],
              },
            },
      );
      const adapter = new CodePipelineAdapter(reads.c, reads.c, UNPACED);

      // Act
      const lookup = await adapter.getStage(REF);

      // Assess
      expect(lookup).toEqual({
        kind: 'found',
        view: expect.objectContaining({
          pipelineVersion: 3,
          latestExecutionId: 'e-1',
          status: 'Failed',
          retryMetadata: { automatic: 0, manual: 2 },
          actions: [
            expect.objectContaining({
              name: 'UnitTests',
              category: 'Test',
              provider: 'CodeBuild',
              executionId: 'a-1',
              errorCode: 'JobFailed',
            }),
          ],
        }),
      });
      expect(reads.sent.map((s) => s.name)).toEqual(['GetPipelineStateCommand', 'GetPipelineCommand']);
    });
  });
});
