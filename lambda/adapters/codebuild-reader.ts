import {
  BatchGetBuildsCommand,
  type Build,
  type CodeBuildClient,
  CodeBuildServiceException,
  DescribeTestCasesCommand,
  InvalidInputException,
  ResourceNotFoundException,
  type TestCase,
} from '@aws-sdk/client-codebuild';
import type { BuildAnswer, TestCaseAnswer } from '../domain/provider-answers';
import { readError, type ServiceAnswer } from './provider-faults';

/** The most test cases read for one failure: enough to name what failed, not a whole broken suite. */
export const MAX_TEST_CASES = 500;

/** The statuses of the test cases that failed: FAILED (an assertion) and ERROR (the test threw). */
export const FAILED_TEST_STATUSES = ['FAILED', 'ERROR'] as const;

/** DescribeTestCases' largest page. */
const PAGE_SIZE = 100;

const isAnswer = (e: unknown): e is ServiceAnswer => e instanceof CodeBuildServiceException;

/**
 * Reads CodeBuild in one account and region: a build with its phases and report ARNs
 * (BatchGetBuilds), and the failed test cases of its reports (DescribeTestCases, one status
 * filter at a time, page after page). Hands on only the fields the classifier reads: a build's
 * environment variables and logs stay behind.
 */
export class CodeBuildReader {
  public constructor(
    private readonly client: CodeBuildClient,
    /** The most test cases one call of failedTestCases reads. */
    private readonly maxCases: number = MAX_TEST_CASES,
  ) {}

  /** The build, or undefined when CodeBuild has none of that id. */
  public async build(buildId: string): Promise<BuildAnswer | undefined> {
    if (!buildId) return undefined;
    let builds: Build[] | undefined;
    try {
      builds = (await this.client.send(new BatchGetBuildsCommand({ ids: [buildId] }))).builds;
    } catch (error) {
      // The only input is the id: one CodeBuild will not take names no build.
      if (error instanceof InvalidInputException) return undefined;
      throw readError(`CodeBuild BatchGetBuilds of ${buildId}`, error, isAnswer);
    }
    const build = builds?.find((b) => b.id === buildId);
    return build ? toBuildAnswer(build) : undefined;
  }

  /** The FAILED and ERROR cases of each report, in report order, at most `maxCases` in all. */
  public async failedTestCases(reportArns: readonly string[]): Promise<TestCaseAnswer[]> {
    const cases: TestCaseAnswer[] = [];
    for (const reportArn of new Set(reportArns)) {
      for (const status of FAILED_TEST_STATUSES) {
        let nextToken: string | undefined;
        do {
          const room = this.maxCases - cases.length;
          if (room <= 0) return cases;
          const page = await this.page(reportArn, status, Math.min(PAGE_SIZE, room), nextToken);
          if (!page) break;
          cases.push(...(page.testCases ?? []).slice(0, room).map(toTestCaseAnswer));
          nextToken = page.nextToken;
        } while (nextToken);
      }
    }
    return cases;
  }

  /** One page of a report's cases of one status; undefined when the report does not exist (any more). */
  private async page(
    reportArn: string,
    status: string,
    maxResults: number,
    nextToken: string | undefined,
  ): Promise<{ testCases?: TestCase[] | undefined; nextToken?: string | undefined } | undefined> {
    try {
      return await this.client.send(new DescribeTestCasesCommand({ reportArn, filter: { status }, maxResults, nextToken }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw readError(`CodeBuild DescribeTestCases of ${reportArn}`, error, isAnswer);
    }
  }
}

function toBuildAnswer(b: Build): BuildAnswer {
  return {
    id: b.id,
    projectName: b.projectName,
    buildStatus: b.buildStatus,
    phases: b.phases?.map((p) => ({
      phaseType: p.phaseType,
      phaseStatus: p.phaseStatus,
      contexts: p.contexts?.map((c) => ({ statusCode: c.statusCode, message: c.message })),
    })),
    reportArns: b.reportArns,
  };
}

function toTestCaseAnswer(c: TestCase): TestCaseAnswer {
  return { reportArn: c.reportArn, testSuiteName: c.testSuiteName, prefix: c.prefix, name: c.name, status: c.status, message: c.message };
}
