import { ACCOUNT_PATTERN, NAME_PREFIX_PATTERN, REGION_PATTERN } from '../contract';
import { NAME_PATTERN } from './policy';
import { keyPath, show } from './show';

/**
 * Checks shared by the cdk.json reader (policy/config.ts) and the construct's props
 * (lib/policies.ts). Each returns the problem, worded with the caller's key path, or undefined.
 */

/** Adds a check's problem to a list, if it found one. */
export function addProblem(problems: string[], problem: string | undefined): void {
  if (problem) problems.push(problem);
}

/** The start of the fixed physical names (see contract's physicalNames). */
export function namePrefixProblem(value: unknown, where: string): string | undefined {
  return typeof value === 'string' && NAME_PREFIX_PATTERN.test(value)
    ? undefined
    : `${where} must be 1-30 of [A-Za-z0-9-], starting with a letter or digit, got ${show(value)}`;
}

/** A switch, when it is set: true or false; anything else is a problem (and leaves it unset). */
export function booleanSetting(value: unknown, where: string, problems: string[]): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  problems.push(`${where} must be true or false, got ${show(value)}`);
  return undefined;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function pipelineNameProblem(value: unknown, where: string): string | undefined {
  return typeof value === 'string' && NAME_PATTERN.test(value)
    ? undefined
    : `${where} must be a pipeline name ([A-Za-z0-9.@-_], 1-100 characters), got ${show(value)}`;
}

/** An AWS account id; `what` says which account, for the message. */
export function accountProblem(value: unknown, where: string, what = 'a 12-digit account id'): string | undefined {
  return typeof value === 'string' && ACCOUNT_PATTERN.test(value) ? undefined : `${where} must be ${what}, got ${show(value)}`;
}

/** An AWS region name; `what` says which region, for the message. */
export function regionProblem(value: unknown, where: string, what = 'an AWS region such as eu-west-1'): string | undefined {
  return typeof value === 'string' && REGION_PATTERN.test(value) ? undefined : `${where} must be ${what}, got ${show(value)}`;
}

/** A map key that names a pipeline (the `pipelines` of cdk.json or props). */
export function pipelineKeyProblem(key: string, where: string): string | undefined {
  return pipelineNameProblem(key, where) ? `${where} is not a valid pipeline name ([A-Za-z0-9.@-_], 1-100 characters)` : undefined;
}

/** A map key that names a stage (a pipeline policy's `stages`). */
export function stageKeyProblem(key: string, where: string): string | undefined {
  return pipelineNameProblem(key, where) ? `${where} is not a valid stage name` : undefined;
}

export function integerProblem(value: unknown, where: string, min: number, max: number): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
    ? undefined
    : `${where} must be an integer from ${min} to ${max}, got ${show(value)}`;
}

export function emailProblem(value: unknown, where: string): string | undefined {
  return typeof value === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)
    ? undefined
    : `${where} must be an email address, got ${show(value)}`;
}

export function slackProblems(workspaceId: unknown, channelId: unknown, where: string): string[] {
  const problems: string[] = [];
  if (!(typeof workspaceId === 'string' && /^[0-9A-Z]{1,255}$/.test(workspaceId))) {
    problems.push(`${where}.workspaceId must be a Slack workspace id such as T0123ABCD, got ${show(workspaceId)}`);
  }
  if (!(typeof channelId === 'string' && /^[A-Za-z0-9]{1,255}$/.test(channelId))) {
    problems.push(`${where}.channelId must be a Slack channel id such as C0123ABCD, got ${show(channelId)}`);
  }
  return problems;
}

export function unknownKeyProblems(obj: Record<string, unknown>, allowed: readonly string[], path: string): string[] {
  return Object.keys(obj)
    .filter((key) => !allowed.includes(key))
    .map((key) => `${keyPath(path, key)} is not a known setting (expected one of: ${allowed.join(', ')})`);
}

const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
/** IAM role names are at most 64 characters; the region suffix takes up to 16. */
const ROLE_BASE = /^[\w+=,.@-]{1,47}$/;

/** The members of an organization deployment, as cdk.json and the props name them. */
export interface OrganizationMembers {
  readonly memberAccounts?: readonly string[] | undefined;
  readonly organizationId?: string | undefined;
  readonly memberRegions?: readonly string[] | undefined;
  readonly memberRoleName?: string | undefined;
}

/** What is wrong with an organization's members (`where` is the organization's key path). */
export function organizationProblems(org: OrganizationMembers, where: string): string[] {
  const problems: string[] = [];
  const accounts = org.memberAccounts ?? [];
  accounts.forEach((a, i) => {
    addProblem(problems, accountProblem(a, `${where}.memberAccounts[${i}]`));
  });
  if (org.organizationId !== undefined && !ORGANIZATION_ID.test(String(org.organizationId))) {
    problems.push(`${where}.organizationId must be an AWS Organizations id such as o-a1b2c3d4e5, got ${show(org.organizationId)}`);
  }
  if (org.organizationId === undefined && accounts.length === 0) {
    problems.push(`${where} needs memberAccounts (a list of account ids) or organizationId (admit the whole organization)`);
  }
  (org.memberRegions ?? []).forEach((r, i) => {
    addProblem(problems, regionProblem(r, `${where}.memberRegions[${i}]`));
  });
  if (org.memberRoleName !== undefined && !ROLE_BASE.test(org.memberRoleName)) {
    problems.push(
      `${where}.memberRoleName must be 1-47 characters of [A-Za-z0-9+=,.@_-] (the region is appended), got ${show(org.memberRoleName)}`,
    );
  }
  return problems;
}

/** The notification targets, as cdk.json and the props name them (`where` is the notifications' key path). */
export function notificationProblems(
  emails: readonly unknown[],
  slack: { workspaceId: unknown; channelId: unknown } | undefined,
  where: string,
): string[] {
  const problems: string[] = [];
  emails.forEach((e, i) => {
    addProblem(problems, emailProblem(e, `${where}.emails[${i}]`));
  });
  if (slack) problems.push(...slackProblems(slack.workspaceId, slack.channelId, `${where}.slack`));
  return problems;
}
