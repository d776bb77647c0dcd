import {
  type CloudFormationClient,
  CloudFormationServiceException,
  DescribeStackEventsCommand,
  type DescribeStackEventsCommandOutput,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import type { StackEventAnswer } from '../domain/provider-answers';
import { readError, type ServiceAnswer } from './provider-faults';

/** The most DescribeStackEvents pages read for one failure (the service answers up to 100 events a page). */
export const MAX_STACK_EVENT_PAGES = 10;

const isAnswer = (e: unknown): e is ServiceAnswer => e instanceof CloudFormationServiceException;

/**
 * CloudFormation answers ValidationError (its Query protocol's error code; the client models no
 * exception for it) for a stack that does not exist, and for a NextToken it does not take.
 */
const NO_SUCH_STACK = 'ValidationError';

/** Reads CloudFormation in one account and region: a stack's recent events (DescribeStackEvents). */
export class StackEventsReader {
  public constructor(
    private readonly client: CloudFormationClient,
    /** The most pages one call of stackEvents reads. */
    private readonly maxPages: number = MAX_STACK_EVENT_PAGES,
  ) {}

  /** The stack's events at or after `since`, newest first; none for a stack that does not exist. */
  public async stackEvents(stackName: string, since: Date): Promise<StackEventAnswer[]> {
    if (!stackName) return [];
    const events: StackEventAnswer[] = [];
    let nextToken: string | undefined;
    for (let pages = 0; pages < this.maxPages; pages++) {
      const page = await this.page(stackName, nextToken);
      // No such stack; or, past the first page, a token the service no longer takes: what was read stands.
      if (!page) return events;
      for (const event of page.StackEvents ?? []) {
        // Newest first: the first one before the window ends it.
        if (event.Timestamp && event.Timestamp.getTime() < since.getTime()) return events;
        events.push(toStackEventAnswer(event));
      }
      nextToken = page.NextToken;
      if (!nextToken) break;
    }
    return events;
  }

  private async page(stackName: string, nextToken: string | undefined): Promise<DescribeStackEventsCommandOutput | undefined> {
    try {
      return await this.client.send(new DescribeStackEventsCommand({ StackName: stackName, NextToken: nextToken }));
    } catch (error) {
      if (isAnswer(error) && error.name === NO_SUCH_STACK) return undefined;
      throw readError(`CloudFormation DescribeStackEvents of ${stackName}`, error, isAnswer);
    }
  }
}

function toStackEventAnswer(e: StackEvent): StackEventAnswer {
  return {
    Timestamp: e.Timestamp,
    LogicalResourceId: e.LogicalResourceId,
    ResourceType: e.ResourceType,
    ResourceStatus: e.ResourceStatus,
    ResourceStatusReason: e.ResourceStatusReason,
    HookStatus: e.HookStatus,
    HookStatusReason: e.HookStatusReason,
    HookFailureMode: e.HookFailureMode,
  };
}
