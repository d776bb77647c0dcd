import { FailureClass } from '../../policy/failure-class';
import { classified, clip, fields, list, PERMISSION, said, THROTTLING, text, unknownClass, unreadClass } from './answer-reading';
import type { BuildAnswer, Classification, TestCaseAnswer } from './provider-answers';
import { testIdentities } from './test-identities';

/**
 * Why a CodeBuild build failed, from BatchGetBuilds' answer (and, for a failure in the phases
 * that run the buildspec's commands, DescribeTestCases'). In this order, the first that applies:
 *
 * 1. a build that did not fail (SUCCEEDED, STOPPED) or says nothing → `unknown`; one still
 *    IN_PROGRESS (CodeBuild lagging behind CodePipeline) → `unknown`, not read;
 * 2. a phase context with throttling words (statusCode or message) → `throttled`;
 * 3. the build or a phase TIMED_OUT → `timeout`;
 * 4. a YAML_FILE_ERROR context (a missing or broken buildspec; CodeBuild reports it in
 *    DOWNLOAD_SOURCE) → `configuration`;
 * 5. buildStatus FAULT, or a phase that FAULTed (CodeBuild's own fault) → `infrastructure`;
 * 6. a failed SUBMITTED, QUEUED, PROVISIONING or DOWNLOAD_SOURCE phase → `infrastructure`, or
 *    `permission` when its context says access was denied (an image or a source the build's
 *    role may not read: a retry cannot cure that);
 * 7. a failed INSTALL, PRE_BUILD, BUILD or POST_BUILD phase → `test` when the failed cases given
 *    hold at least one FAILED or ERROR case, else `build`;
 * 8. a failed UPLOAD_ARTIFACTS or FINALIZING phase → `permission` on access-denied words,
 *    `build` when no artifact matched (the build did not make what it promised), else
 *    `infrastructure` (storing the artifacts failed);
 * 9. anything else → `unknown`.
 */

/** The phases before the buildspec runs: CodeBuild's machinery (queue, fleet, image, source). */
export const MACHINE_PHASES: readonly string[] = ['SUBMITTED', 'QUEUED', 'PROVISIONING', 'DOWNLOAD_SOURCE'];
/** The phases that run the buildspec's commands. */
export const COMMAND_PHASES: readonly string[] = ['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD'];
/** The phases after the commands: artifacts stored, the container cleaned up. */
export const STORING_PHASES: readonly string[] = ['UPLOAD_ARTIFACTS', 'FINALIZING'];

const FAILED_STATUSES: readonly string[] = ['FAILED', 'FAULT', 'TIMED_OUT'];
const NO_ARTIFACTS = /no matching (artifact|base directory)/i;

interface Phase {
  readonly type: string;
  readonly status: string | undefined;
  readonly contexts: readonly { readonly code: string | undefined; readonly message: string | undefined }[];
}

/** A build's answer as the rules read it. */
interface ReadBuild {
  readonly name: string;
  readonly status: string | undefined;
  readonly phases: readonly Phase[];
  /** The first phase that failed, faulted or timed out. */
  readonly failed: Phase | undefined;
  readonly reportArns: readonly string[];
}

/** `web-app:1b2c3d4e-…` as `web-app:1b2c3d4e…`: the project and enough of the build's uuid to find it. */
export function shortBuildId(id: string): string {
  const at = id.lastIndexOf(':');
  const run = id.slice(at + 1);
  return run.length > 8 ? `${id.slice(0, at + 1)}${run.slice(0, 8)}…` : id;
}

function readBuild(build: BuildAnswer): ReadBuild {
  const b = fields(build);
  const id = text(b.id) ?? text(b.projectName);
  const phases = list(b.phases).map((raw): Phase => {
    const p = fields(raw);
    return {
      type: text(p.phaseType) ?? 'an unnamed phase',
      status: text(p.phaseStatus),
      contexts: list(p.contexts).map((c) => ({ code: text(fields(c).statusCode), message: text(fields(c).message) })),
    };
  });
  return {
    name: `CodeBuild build ${id === undefined ? '(no id)' : shortBuildId(id)}`,
    status: text(b.buildStatus),
    phases,
    failed: phases.find((p) => p.status !== undefined && FAILED_STATUSES.includes(p.status)),
    reportArns: list(b.reportArns).filter((arn): arn is string => text(arn) !== undefined),
  };
}

/** What a phase's contexts say, as `statusCode: message` of the first that says anything. */
function contextOf(phase: Phase | undefined): string {
  const context = phase?.contexts.find((c) => c.code !== undefined || c.message !== undefined);
  return context ? said(context.code, context.message && clip(context.message, 200)) : '';
}

function failedIn(build: ReadBuild, phase: Phase | undefined, extra = ''): string {
  if (!phase) return `${build.name} ended ${build.status ?? 'without a status'}${extra}`;
  const context = contextOf(phase);
  return `${build.name} failed in ${phase.type}${context ? `: ${context}` : ''}${extra}`;
}

/** Why a build failed (see the rules above); never throws, whatever the answer holds. */
export function classifyBuild(build: BuildAnswer, failedCases?: readonly TestCaseAnswer[]): Classification {
  const b = readBuild(build);
  if (b.status === undefined && b.failed === undefined) return unknownClass(`${b.name}: the answer has no status and no failed phase`);
  // CodeBuild can lag behind CodePipeline: a build still running has no class yet, not none.
  if (b.status === 'IN_PROGRESS') return unreadClass(`${b.name} has not finished: it is IN_PROGRESS`);
  if (b.status !== undefined && !FAILED_STATUSES.includes(b.status)) {
    return unknownClass(`${b.name} did not fail: it is ${b.status}`);
  }
  const throttled = b.phases.find((p) => p.contexts.some((c) => THROTTLING.test(`${c.code ?? ''} ${c.message ?? ''}`)));
  if (throttled) return classified(FailureClass.Throttled, failedIn(b, throttled));
  const timedOut = b.phases.find((p) => p.status === 'TIMED_OUT');
  if (b.status === 'TIMED_OUT' || timedOut) {
    return classified(FailureClass.Timeout, timedOut ? `${b.name} timed out in ${timedOut.type}` : `${b.name} timed out`);
  }
  const failed = b.failed;
  const words = contextOf(failed);
  if (b.phases.some((p) => p.contexts.some((c) => c.code === 'YAML_FILE_ERROR'))) {
    const yaml = b.phases.find((p) => p.contexts.some((c) => c.code === 'YAML_FILE_ERROR'));
    return classified(FailureClass.Configuration, failedIn(b, yaml));
  }
  if (b.status === 'FAULT' || failed?.status === 'FAULT') return classified(FailureClass.Infrastructure, failedIn(b, failed));
  if (!failed) return unknownClass(`${b.name} failed, but no phase says where`);
  if (MACHINE_PHASES.includes(failed.type)) {
    return classified(PERMISSION.test(words) ? FailureClass.Permission : FailureClass.Infrastructure, failedIn(b, failed));
  }
  if (COMMAND_PHASES.includes(failed.type)) {
    const tests = testIdentities(failedCases ?? []);
    if (tests.length === 0) return classified(FailureClass.Build, failedIn(b, failed));
    const names = tests.slice(0, 3).map((t) => (t.suite ? `${t.suite}.${t.name}` : t.name));
    const more = tests.length > 3 ? ', …' : '';
    const count = `; ${tests.length} failed test${tests.length === 1 ? '' : 's'}: ${clip(names.join(', '), 120)}${more}`;
    return { ...classified(FailureClass.Test, failedIn(b, failed, count)), failedTests: tests };
  }
  if (STORING_PHASES.includes(failed.type)) {
    if (PERMISSION.test(words)) return classified(FailureClass.Permission, failedIn(b, failed));
    if (NO_ARTIFACTS.test(words)) return classified(FailureClass.Build, failedIn(b, failed));
    return classified(FailureClass.Infrastructure, failedIn(b, failed));
  }
  return unknownClass(failedIn(b, failed));
}

/**
 * Whether the build's failed test cases could change its class: it failed in a phase that runs
 * commands, for no other reason the rules see first, and wrote reports. The caller reads
 * DescribeTestCases (status FAILED) for its reportArns only then, and passes the cases to
 * classifyBuild; otherwise a second call would tell nothing new.
 */
export function needsTestCases(build: BuildAnswer): boolean {
  const b = readBuild(build);
  return (
    b.reportArns.length > 0 &&
    b.failed !== undefined &&
    COMMAND_PHASES.includes(b.failed.type) &&
    classifyBuild(build).class === FailureClass.Build
  );
}
