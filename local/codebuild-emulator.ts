import { randomUUID } from 'node:crypto';
import { JsonProviderEmulator, ProviderError, page } from './provider-emulator';

/**
 * A local CodeBuild in AWS JSON 1.1 (X-Amz-Target: CodeBuild_20161006.<Operation>) serving the
 * two reads that tell why a build failed: BatchGetBuilds (builds with their phases, each phase's
 * contexts, and the build's report ARNs; `buildsNotFound` for ids it does not hold) and
 * DescribeTestCases (a report's test cases, filtered by status or keyword, in pages). Tests put
 * builds in with `putBuild`; the fault controls are ProviderEmulator's.
 */

/** A build's phases, in the order CodeBuild runs them. */
export const PHASES = [
  'SUBMITTED',
  'QUEUED',
  'PROVISIONING',
  'DOWNLOAD_SOURCE',
  'INSTALL',
  'PRE_BUILD',
  'BUILD',
  'POST_BUILD',
  'UPLOAD_ARTIFACTS',
  'FINALIZING',
  'COMPLETED',
] as const;
export type PhaseType = (typeof PHASES)[number];

export const BuildStatus = {
  Succeeded: 'SUCCEEDED',
  Failed: 'FAILED',
  Fault: 'FAULT',
  TimedOut: 'TIMED_OUT',
  InProgress: 'IN_PROGRESS',
  Stopped: 'STOPPED',
} as const;
export type BuildStatus = (typeof BuildStatus)[keyof typeof BuildStatus];

export const TestStatus = { Succeeded: 'SUCCEEDED', Failed: 'FAILED', Error: 'ERROR', Skipped: 'SKIPPED', Unknown: 'UNKNOWN' } as const;
export type TestStatus = (typeof TestStatus)[keyof typeof TestStatus];

export interface PhaseContext {
  readonly statusCode: string;
  readonly message: string;
}

/** One test case a report holds. */
export interface TestCaseSpec {
  readonly name: string;
  readonly status: TestStatus;
  /** The suite (CodeBuild's prefix and testSuiteName). @default 'suite' */
  readonly suite?: string;
  readonly message?: string;
}

/** A test report the build wrote to a report group. */
export interface ReportSpec {
  /** The report group's name. @default `<project>-tests` */
  readonly group?: string;
  readonly cases: readonly TestCaseSpec[];
}

/** A build, as a scenario describes it. */
export interface BuildSpec {
  readonly project: string;
  /** @default FAILED when a phase is named, else SUCCEEDED */
  readonly status?: BuildStatus;
  /** The phase the build failed (or timed out, or stopped) in; for a build IN_PROGRESS, the phase it is in. @default none: every phase ran */
  readonly phase?: PhaseType;
  /** That phase's status. @default TIMED_OUT, FAULT or STOPPED for a build of that status, else FAILED */
  readonly phaseStatus?: string;
  /** That phase's contexts. @default one fitting the phase (BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE in PROVISIONING, COMMAND_EXECUTION_ERROR in BUILD, …) */
  readonly contexts?: readonly PhaseContext[];
  readonly reports?: readonly ReportSpec[];
}

const DEFAULT_CONTEXTS: Partial<Record<PhaseType, PhaseContext>> = {
  QUEUED: { statusCode: 'ACCOUNT_LIMIT_EXCEEDED', message: 'Cannot have more than 1 builds in queue for the account' },
  PROVISIONING: {
    statusCode: 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE',
    message: "Unable to pull customer's container image. CannotPullContainerError: Error response from daemon: toomanyrequests",
  },
  DOWNLOAD_SOURCE: { statusCode: 'CLIENT_ERROR', message: 'RequestError: send request failed caused by: read: connection reset by peer' },
};

/** The status of the phase a build ended in, by the build's status. */
const PHASE_STATUS_OF: Partial<Record<BuildStatus, string>> = { TIMED_OUT: 'TIMED_OUT', FAULT: 'FAULT', STOPPED: 'STOPPED' };

const TIMED_OUT: PhaseContext = { statusCode: 'BUILD_TIMED_OUT', message: 'Build has timed out. ' };

function commandError(phase: PhaseType): PhaseContext {
  return {
    statusCode: 'COMMAND_EXECUTION_ERROR',
    message: `Error while executing command: npm run ${phase.toLowerCase()}. Reason: exit status 1`,
  };
}

interface WireTestCase extends Record<string, unknown> {
  readonly status: string;
  readonly name: string;
  readonly prefix: string;
}

const PAGE_SIZE = 100;

export class CodeBuildEmulator extends JsonProviderEmulator {
  protected readonly targetPrefix = 'CodeBuild_20161006';
  private readonly builds = new Map<string, Record<string, unknown>>();
  private readonly reports = new Map<string, WireTestCase[]>();

  /** Holds a build as `spec` describes it; returns its id, `<project>:<uuid>`. */
  public putBuild(spec: BuildSpec): string {
    const id = `${spec.project}:${randomUUID()}`;
    const start = this.seconds(-600);
    const status = spec.status ?? (spec.phase === undefined ? BuildStatus.Succeeded : BuildStatus.Failed);
    const reportArns = (spec.reports ?? []).map((r) => this.putReport(r.group ?? `${spec.project}-tests`, r.cases));
    const phases = this.phases(spec, status, start);
    const ended = status !== BuildStatus.InProgress;
    const current = ended ? 'COMPLETED' : (spec.phase ?? 'SUBMITTED');
    this.builds.set(id, {
      id,
      arn: `arn:aws:codebuild:${this.region}:${this.account}:build/${id}`,
      buildNumber: this.builds.size + 1,
      startTime: start,
      ...(ended ? { endTime: start + phases.length * 10 } : {}),
      currentPhase: current,
      buildStatus: status,
      projectName: spec.project,
      phases,
      buildComplete: ended,
      initiator: 'codepipeline/pipeline',
      reportArns,
      logs: { groupName: `/aws/codebuild/${spec.project}`, streamName: id.split(':')[1] },
    });
    return id;
  }

  /** Holds a test report of `group` with these cases; returns its ARN, `…:report/<group>:<uuid>`. */
  public putReport(group: string, cases: readonly TestCaseSpec[]): string {
    const reportArn = `arn:aws:codebuild:${this.region}:${this.account}:report/${group}:${randomUUID()}`;
    this.reports.set(
      reportArn,
      cases.map((c) => ({
        reportArn,
        testRawDataPath: `/codebuild/output/reports/${group}.xml`,
        prefix: c.suite ?? 'suite',
        testSuiteName: c.suite ?? 'suite',
        name: c.name,
        status: c.status,
        durationInNanoSeconds: 1_500_000,
        ...(c.message !== undefined ? { message: c.message } : {}),
        expired: this.seconds(30 * 86_400),
      })),
    );
    return reportArn;
  }

  public override reset(): void {
    super.reset();
    this.builds.clear();
    this.reports.clear();
  }

  protected dispatch(action: string, input: Record<string, unknown>): unknown {
    switch (action) {
      case 'BatchGetBuilds':
        return this.batchGetBuilds(input);
      case 'DescribeTestCases':
        return this.describeTestCases(input);
      default:
        return this.unknown(action);
    }
  }

  /** The phases up to `spec.phase` (succeeded, then that one as the spec says), and the closing ones a build always has. */
  private phases(spec: BuildSpec, status: BuildStatus, start: number): Record<string, unknown>[] {
    const at = PHASES.indexOf(spec.phase ?? 'COMPLETED');
    const ran: PhaseType[] = [...PHASES.slice(0, at), ...(spec.phase ? [spec.phase] : [])];
    if (status !== BuildStatus.InProgress && spec.phase && spec.phase !== 'FINALIZING') ran.push('FINALIZING');
    if (status !== BuildStatus.InProgress && spec.phase !== 'COMPLETED') ran.push('COMPLETED');
    return ran.map((phaseType, i) => {
      const begun = start + i * 10;
      if (phaseType === 'COMPLETED') return { phaseType, startTime: begun };
      if (phaseType === spec.phase && status === BuildStatus.InProgress) return { phaseType, startTime: begun };
      const failed = phaseType === spec.phase && status !== BuildStatus.Succeeded;
      const phaseStatus = failed ? (spec.phaseStatus ?? PHASE_STATUS_OF[status] ?? 'FAILED') : 'SUCCEEDED';
      const context = status === BuildStatus.TimedOut ? TIMED_OUT : (DEFAULT_CONTEXTS[phaseType] ?? commandError(phaseType));
      return {
        phaseType,
        phaseStatus,
        startTime: begun,
        endTime: begun + 10,
        durationInSeconds: 10,
        contexts: failed ? (spec.contexts ?? [context]) : [{ statusCode: '', message: '' }],
      };
    });
  }

  private batchGetBuilds(input: Record<string, unknown>): unknown {
    const ids = input.ids;
    if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100 || ids.some((id) => typeof id !== 'string' || id.length === 0)) {
      throw new ProviderError('InvalidInputException', "1 validation error detected: Value at 'ids' failed to satisfy constraint");
    }
    const wanted = [...new Set(ids as string[])];
    return {
      builds: wanted.flatMap((id) => {
        const build = this.builds.get(id);
        return build ? [structuredClone(build)] : [];
      }),
      buildsNotFound: wanted.filter((id) => !this.builds.has(id)),
    };
  }

  private describeTestCases(input: Record<string, unknown>): unknown {
    const reportArn = input.reportArn;
    if (typeof reportArn !== 'string' || reportArn.length === 0) throw new ProviderError('InvalidInputException', 'reportArn is required');
    const maxResults = input.maxResults ?? PAGE_SIZE;
    if (typeof maxResults !== 'number' || !Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) {
      throw new ProviderError('InvalidInputException', `Value ${String(maxResults)} at 'maxResults' failed to satisfy constraint`);
    }
    const filter = (input.filter ?? {}) as { status?: unknown; keyword?: unknown };
    if (filter.status !== undefined && !Object.values(TestStatus).includes(filter.status as TestStatus)) {
      throw new ProviderError('InvalidInputException', `Invalid test case status: ${String(filter.status)}`);
    }
    const cases = this.reports.get(reportArn);
    if (!cases) throw new ProviderError('ResourceNotFoundException', `Report ${reportArn} does not exist`);
    const keyword = typeof filter.keyword === 'string' ? filter.keyword : undefined;
    const matching = cases.filter(
      (c) =>
        (filter.status === undefined || c.status === filter.status) && (!keyword || c.name.includes(keyword) || c.prefix.includes(keyword)),
    );
    const query = `${reportArn}|${String(filter.status ?? '')}|${keyword ?? ''}`;
    const { items, next } = page(
      matching,
      maxResults,
      input.nextToken,
      query,
      () => new ProviderError('InvalidInputException', 'Invalid nextToken'),
    );
    return { testCases: items, ...(next ? { nextToken: next } : {}) };
  }
}
