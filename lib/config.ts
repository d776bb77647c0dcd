import { Duration } from 'aws-cdk-lib';
import type { Location } from '../contract';
import { type ConfigSettings, type ReadConfig, readConfigOrThrow } from '../policy/config';
import { policyPropsOfSeeds } from './policy-mapper';
import type { PipelineAutoRetryProps } from './props';

/**
 * cdk.json's `autoRetry` block as the construct's props. Reading and checking it is
 * policy/config.ts's (readConfig); this only says the same thing in the props' terms.
 */

/** A read, valid configuration as the construct's props: durations as `Duration`s. */
export function propsOfConfig({ settings, seeds }: Pick<ReadConfig, 'settings' | 'seeds'>): PipelineAutoRetryProps {
  const { watch, notifications, organization } = settings;
  return {
    watchedPipelines: watch && [...watch],
    ...policyPropsOfSeeds(seeds, settings.pipelineKeys),
    ledgerRetention: settings.ledgerRetentionDays === undefined ? undefined : Duration.days(settings.ledgerRetentionDays),
    notifications: notifications && {
      emails: notifications.emails.length > 0 ? [...notifications.emails] : undefined,
      slack: notifications.slack && { ...notifications.slack },
    },
    alarms: settings.exhaustedPerHour === undefined ? undefined : { exhaustedPerHour: settings.exhaustedPerHour },
    metrics: settings.pipelineDimensions === undefined ? undefined : { pipelineDimensions: settings.pipelineDimensions },
    namePrefix: settings.namePrefix,
    classifyAllFailures: settings.classifyAllFailures,
    organization: organization && {
      memberAccounts: organization.memberAccounts && [...organization.memberAccounts],
      organizationId: organization.organizationId,
      memberRegions: organization.memberRegions && [...organization.memberRegions],
      memberRoleName: organization.memberRoleName,
    },
  };
}

/**
 * Reads, checks and turns the `autoRetry` configuration into the construct's props; throws one
 * ConfigurationError naming every problem by its key path.
 */
export function parseAutoRetryConfig(raw: unknown, path = 'autoRetry'): PipelineAutoRetryProps {
  return propsOfConfig(readConfigOrThrow(raw, path));
}

/** Where the stacks of an organization deployment go: cdk.json's `organization`, read by bin/app.ts. */
export interface Deployment {
  readonly central: Location;
  /** One member stack each: every member account in every member region, and the central account in the other regions. */
  readonly members: readonly Location[];
}

/** The stacks to synthesize for a read configuration; undefined for a single-account deployment. */
export function deploymentOf(settings: Pick<ConfigSettings, 'organization'>): Deployment | undefined {
  const org = settings.organization;
  if (!org) return undefined;
  const central = { account: org.centralAccount, region: org.centralRegion };
  const regions = [...new Set([central.region, ...(org.memberRegions ?? [])])];
  const accounts = [...new Set([central.account, ...(org.memberAccounts ?? [])])];
  const members = accounts.flatMap((account) =>
    regions.filter((region) => account !== central.account || region !== central.region).map((region) => ({ account, region })),
  );
  return { central, members };
}
