import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { LEDGER_PREFIX, OPEN_CLAIMS_INDEX, Partition } from '../contract';
import { PROVIDER_READS } from './defaults';
import { acknowledgeMemberRoleAssumption } from './nag-suppressions';

/**
 * The construct's resource policies and grants, each as narrow as its callers need: who may
 * publish to the topic and use the key, who may feed the delay queue, which table items each
 * function may read and write.
 */

/** The conditions that let CloudWatch act for this account's alarms only (confused-deputy guard). */
function fromThisAccountsAlarms(stack: Stack): Record<string, unknown> {
  return {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: {
      'aws:SourceArn': stack.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName: '*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    },
  };
}

/**
 * The product's key (notifications topic and log groups). CloudWatch alarms and CloudWatch Logs
 * may use it for this account's alarms and log groups only; grants may be created for AWS
 * services only (Control Tower's CT.KMS.PR.3).
 */
export function secureKey(key: kms.IKey): void {
  const stack = Stack.of(key);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublishEncrypted',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: fromThisAccountsAlarms(stack),
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsEncrypt',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'GrantsOnlyForAwsServices',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
}

/**
 * The topic's policy replaces SNS's default one (enforceSSL writes a Deny), so CloudWatch alarms
 * of this account need an explicit Allow to publish.
 */
export function allowAlarmsToPublish(topic: sns.ITopic): void {
  const stack = Stack.of(topic);
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: fromThisAccountsAlarms(stack),
    }),
  );
}

/** Nobody but the retry function's role may send to the delay queue, whatever their IAM policies say. */
export function onlyRoleMaySend(queue: sqs.IQueue, role: iam.IRole): void {
  queue.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyTheRetryFunctionSends',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
    }),
  );
}

/** The table item actions the retry function calls, and the partitions it may write: the ledger and budgets, never policies. */
export const RETRY_FUNCTION_TABLE_ACCESS = {
  reads: ['dynamodb:GetItem', 'dynamodb:Query'],
  writes: ['dynamodb:UpdateItem', 'dynamodb:PutItem'],
  writablePartitions: [`${LEDGER_PREFIX}*`, Partition.Budget, Partition.Rate],
} as const;

/** The reconciler's one read of the open-claims index: a Query on that index alone. */
export function grantOpenClaimsQuery(table: dynamodb.ITable, role: iam.IRole): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReconcilerQueriesOpenClaims',
      actions: ['dynamodb:Query'],
      resources: [`${table.tableArn}/index/${OPEN_CLAIMS_INDEX.name}`],
    }),
  );
}

/** What the deploy-time seeder calls: policy items only. */
export const SEEDER_TABLE_ACCESS = {
  reads: ['dynamodb:Query'],
  writes: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
  writablePartitions: [Partition.Policy],
} as const;

/** Grants the item reads and the writes on the given partitions (dynamodb:LeadingKeys), nothing else. */
export function grantTableItems(
  table: dynamodb.ITable,
  role: iam.IRole,
  access: { readonly reads: readonly string[]; readonly writes: readonly string[]; readonly writablePartitions: readonly string[] },
  sid: string,
): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: `${sid}Read`, actions: [...access.reads], resources: [table.tableArn] }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: `${sid}Write`,
      actions: [...access.writes],
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...access.writablePartitions] } },
    }),
  );
}

/**
 * What the `autoretry` CLI calls on the table: reads of everything (history, status, report,
 * policies), writes of policy and pause items only.
 */
export const OPERATOR_TABLE_ACCESS = {
  reads: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'],
  writes: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
  writablePartitions: [Partition.Policy, Partition.Pause],
} as const;

/** Reads on the watched pipelines, RetryStageExecution on their stages; no wildcard action. */
export function grantPipelines(role: iam.IRole, watch: 'all' | readonly string[]): void {
  const pipelineArn = (name: string) => Stack.of(role).formatArn({ service: 'codepipeline', resource: name });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadPipelines',
      // GetPipelineExecution and ListActionExecutions judge an execution by its own run (PARALLEL mode).
      actions: [
        'codepipeline:GetPipelineState',
        'codepipeline:GetPipeline',
        'codepipeline:GetPipelineExecution',
        'codepipeline:ListActionExecutions',
      ],
      resources: watch === 'all' ? [pipelineArn('*')] : watch.map(pipelineArn),
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'RetryStages',
      actions: ['codepipeline:RetryStageExecution'],
      resources: watch === 'all' ? [pipelineArn('*')] : watch.map((p) => `${pipelineArn(p)}/*`),
    }),
  );
}

/** Reads of the providers behind failed actions (PROVIDER_READS), in the role's account and region; no wildcard action. */
export function grantProviderReads(role: iam.IRole): void {
  const stack = Stack.of(role);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadFailureProviders',
      actions: PROVIDER_READS.map((r) => r.action),
      resources: PROVIDER_READS.map((r) => `arn:${stack.partition}:${r.service}:${stack.region}:${stack.account}:${r.resource}`),
    }),
  );
}

/**
 * The central function may assume the member roles and nothing else in other accounts: the
 * listed accounts' roles by name, or, for a whole organization, any account's role of that name
 * that belongs to the organization (aws:ResourceOrgID).
 */
export function grantMemberRoles(
  role: iam.IRole,
  org: { readonly accounts: '*' | readonly string[]; readonly organizationId: string | undefined; readonly memberRoleName: string },
): void {
  const stack = Stack.of(role);
  const roleArns = (account: string) => `arn:${stack.partition}:iam::${account}:role/${org.memberRoleName}-*`;
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'AssumeMemberRoles',
      actions: ['sts:AssumeRole'],
      ...(org.accounts === '*'
        ? { resources: [roleArns('*')], conditions: { StringEquals: { 'aws:ResourceOrgID': org.organizationId } } }
        : { resources: [...new Set([stack.account, ...org.accounts])].map(roleArns) }),
    }),
  );
  acknowledgeMemberRoleAssumption(role, org.accounts === '*' ? ['*'] : [...new Set([stack.account, ...org.accounts])], org.memberRoleName);
}
