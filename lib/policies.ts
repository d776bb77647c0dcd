import { Annotations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { physicalNames } from '../contract';
import {
  addProblem,
  integerProblem,
  namePrefixProblem,
  notificationProblems,
  organizationProblems,
  pipelineNameProblem,
} from '../policy/checks';
import { ConfigurationError } from '../policy/errors';
import { collectPolicies } from '../policy/policy-tree';
import type { PolicySeed } from '../policy/scope';
import { DEFAULT_CODEPIPELINE_REQUESTS_PER_SECOND, DEFAULT_RESERVED_CONCURRENCY } from './defaults';
import { PROPS_POLICY_SYNTAX, rawPoliciesOfProps, secondsOf } from './policy-mapper';
import type { OrganizationProps, PipelineAutoRetryProps, SlackChannel } from './props';

/** The construct's props after validation: what it builds from. */
export interface ResolvedProps {
  /** `all`, or the watched pipelines. */
  readonly watch: 'all' | readonly string[];
  /** The policies the deploy writes to the table. */
  readonly policies: readonly PolicySeed[];
  readonly ledgerRetentionDays: number;
  readonly emails: readonly string[];
  readonly slack: SlackChannel | undefined;
  readonly exhaustedPerHour: number;
  /** Pipelines that get their own metric dimension; undefined when the dimension is off. */
  readonly metricPipelines: readonly string[] | undefined;
  readonly reservedConcurrency: number;
  readonly codePipelineRequestsPerSecond: number;
  readonly classifyAllFailures: boolean;
  /** The fixed physical names (central bus, central role, member role base). */
  readonly names: ReturnType<typeof physicalNames>;
  /** The members of an organization deployment; undefined for a single account. */
  readonly organization: ResolvedOrganization | undefined;
}

export interface ResolvedOrganization {
  /** Member accounts, or `*` for every account of `organizationId`. */
  readonly accounts: '*' | readonly string[];
  readonly organizationId: string | undefined;
  /** Member regions; empty means the central region only. */
  readonly regions: readonly string[];
  readonly memberRoleName: string;
}

function resolveOrganization(
  org: OrganizationProps | undefined,
  names: ReturnType<typeof physicalNames>,
  path: string,
  problems: string[],
): ResolvedOrganization | undefined {
  if (!org) return undefined;
  problems.push(...organizationProblems(org, `${path}.organization`));
  const accounts = org.memberAccounts ?? [];
  return {
    accounts: org.organizationId !== undefined && accounts.length === 0 ? '*' : [...accounts],
    organizationId: org.organizationId,
    regions: [...(org.memberRegions ?? [])],
    memberRoleName: org.memberRoleName ?? names.memberRoleBase,
  };
}

/**
 * Props checked the CDK way: when they are wrong, each problem becomes an error annotation on
 * the construct, which `cdk synth` prints as one line (`ERROR props.… must be …`, with the
 * construct's path below it) before it fails, as it does for cdk-nag's findings, and `cdk deploy` refuses. The
 * construct is then built from the defaults, so it is whole and nothing after it trips over a
 * bad value; a test finds the problems with `Annotations.fromStack(stack).hasError(…)`.
 */
export function resolveOrReport(
  scope: IConstruct,
  props: PipelineAutoRetryProps,
): { readonly settings: ResolvedProps; readonly props: PipelineAutoRetryProps } {
  try {
    return { settings: resolveProps(props), props };
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    reportProblems(scope, error.problems);
    return { settings: resolveProps({}), props: {} };
  }
}

/** Each problem as an error annotation on the construct: one line each in `cdk synth`, which then fails. */
export function reportProblems(scope: IConstruct, problems: readonly string[]): void {
  for (const problem of problems) Annotations.of(scope).addError(problem);
}

/**
 * Validates the props and resolves their defaults. Every problem is collected, then thrown
 * together as one ConfigurationError whose lines name the prop path.
 */
export function resolveProps(props: PipelineAutoRetryProps, path = 'props'): ResolvedProps {
  const problems: string[] = [];
  const watched = props.watchedPipelines;
  if (watched !== undefined) {
    if (watched.length === 0) problems.push(`${path}.watchedPipelines must name at least one pipeline, or be left out to watch all`);
    watched.forEach((name, i) => {
      addProblem(problems, pipelineNameProblem(name, `${path}.watchedPipelines[${i}]`));
    });
  }

  const policyTree = collectPolicies(
    {
      path,
      defaultKey: 'defaultPolicy',
      ...rawPoliciesOfProps(props),
      watched: watched ? { names: watched, key: 'watchedPipelines' } : undefined,
    },
    { syntax: PROPS_POLICY_SYNTAX, keys: 'typed' },
  );
  problems.push(...policyTree.problems);

  const retention = props.ledgerRetention ? secondsOf(props.ledgerRetention) : 30 * 86_400;
  const ledgerRetentionDays = typeof retention === 'number' ? retention / 86_400 : Number.NaN;
  addProblem(problems, integerProblem(ledgerRetentionDays, `${path}.ledgerRetention (in days)`, 1, 3650));

  const emails = props.notifications?.emails ?? [];
  const slack = props.notifications?.slack;
  problems.push(...notificationProblems(emails, slack, `${path}.notifications`));

  const exhaustedPerHour = props.alarms?.exhaustedPerHour ?? 5;
  addProblem(problems, integerProblem(exhaustedPerHour, `${path}.alarms.exhaustedPerHour`, 1, 10_000));

  const reservedConcurrency = props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY;
  addProblem(problems, integerProblem(reservedConcurrency, `${path}.reservedConcurrency`, 2, 1000));
  const rate = props.codePipelineRequestsPerSecond ?? DEFAULT_CODEPIPELINE_REQUESTS_PER_SECOND;
  if (!(typeof rate === 'number' && Number.isFinite(rate) && rate >= 1 && rate <= 1000)) {
    problems.push(`${path}.codePipelineRequestsPerSecond must be a number from 1 to 1000, got ${String(rate)}`);
  }
  const timeout = props.timeout?.toSeconds() ?? 30;
  if (!(timeout >= 10 && timeout <= 300)) {
    problems.push(`${path}.timeout must be from 10 seconds to 5 minutes (the ledger lease is twice it), got ${timeout} seconds`);
  }

  const reconcile = props.reconcileEvery?.toSeconds() ?? 300;
  if (!(reconcile >= 60 && reconcile <= 3600 && Number.isInteger(reconcile / 60))) {
    problems.push(`${path}.reconcileEvery must be whole minutes from 1 to 60, got ${reconcile} seconds`);
  }

  if (props.namePrefix !== undefined) addProblem(problems, namePrefixProblem(props.namePrefix, `${path}.namePrefix`));
  const names = physicalNames(props.namePrefix);
  const organization = resolveOrganization(props.organization, names, path, problems);

  if (problems.length > 0) throw new ConfigurationError(problems);
  const named = [...new Set([...(watched ?? []), ...Object.keys(props.pipelines ?? {}).map((k) => k.split('/').pop() as string)])];
  return {
    watch: watched ?? 'all',
    policies: policyTree.seeds,
    ledgerRetentionDays,
    emails,
    slack,
    exhaustedPerHour,
    metricPipelines: props.metrics?.pipelineDimensions === false ? undefined : named,
    reservedConcurrency,
    codePipelineRequestsPerSecond: rate,
    classifyAllFailures: props.classifyAllFailures === true,
    names,
    organization,
  };
}
