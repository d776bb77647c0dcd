import { type Command, Option } from 'commander';
import type { StoredPolicy } from '../../lambda/adapters/items';
import { CONFIG_KEYS, readConfigOrThrow } from '../../policy/config';
import { InvalidInputError } from '../../policy/errors';
import { FAILURE_CLASSES, type FailureClass } from '../../policy/failure-class';
import { POLICY_FIELDS, resolvePolicy } from '../../policy/policy';
import { describeScope, type PolicyScope, parsePolicyTarget } from '../../policy/scope';
import { type CommandContext, pipelineName, subcommand } from '../context';
import { explainFailure } from '../explain';
import { isTableUnavailable } from '../faults';
import { shortTime } from '../format';
import { importDiff } from '../import-diff';
import { addPolicyFlags, describePatch, describeValue, type PolicyFlags, patchFromFlags } from '../policy-flags';
import { defaultConfigPath, loadConfig } from './simulate';

/** Which policy item a `policy set|delete` names: --default, a pipeline, or a pipeline's stage. */
function scopeFrom(pipeline: string | undefined, opts: { default?: boolean; stage?: string }, verb: string): PolicyScope {
  if (opts.default) {
    if (pipeline) throw new InvalidInputError('give either --default or a pipeline, not both');
    if (opts.stage) throw new InvalidInputError('--stage cannot be used with --default');
    return { kind: 'default' };
  }
  if (!pipeline) throw new InvalidInputError(`missing pipeline: autoretry policy ${verb} <pipeline> [flags] or --default`);
  const target = parsePolicyTarget(pipeline, 'pipeline');
  if (target.pipeline === undefined) {
    if (opts.stage) throw new InvalidInputError('--stage needs a pipeline, not an account');
    return { kind: 'account', account: target.account };
  }
  return opts.stage
    ? { kind: 'stage', pipeline: target.pipeline, stage: pipelineName(opts.stage, 'stage'), account: target.account }
    : { kind: 'pipeline', pipeline: target.pipeline, account: target.account };
}

/** A pipeline in every account, or `<account>/<pipeline>`. */
function pipelineTarget(text: string): { pipeline: string; account?: string | undefined } {
  const target = parsePolicyTarget(text, 'pipeline');
  if (target.pipeline === undefined) throw new InvalidInputError(`pipeline ${JSON.stringify(text)}: name a pipeline, not an account`);
  return target;
}

/** `autoretry policy set|delete|list|get|explain`. */
export function registerPolicyCommands(program: Command, ctx: CommandContext): void {
  const { io, services, style } = ctx;
  const policy = subcommand(program, 'policy').description('show and change retry policies');
  addPolicyFlags(
    subcommand(policy, 'set')
      .description("set fields of the default, an account's, a pipeline's or a stage's policy (the item becomes operator-owned)")
      .argument('[target]', 'pipeline name (every account), <account>/<pipeline> (one account), or account:<account>')
      .option('--default', 'change the default policy instead of a pipeline')
      .option('--stage <stage>', 'change one stage of the pipeline'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry policy set web-app --stage Test --max-retries 3 --cooldown 1m --backoff 2\n' +
        '  autoretry policy set web-app --stage Test --retry-on \'[{"provider":"CodeBuild","message":"timed out|ECONNRESET"}]\'\n' +
        '  autoretry policy set web-app --budget 10/1h\n  autoretry policy set --default --max-retries 1 --mode observe\n' +
        '  autoretry policy set account:111122223333 --max-retries 1\n  autoretry policy set 111122223333/web-app --stage Deploy --max-retries 0',
    )
    .action(async (pipeline: string | undefined, opts: PolicyFlags & { default?: boolean; stage?: string }) => {
      const scope = scopeFrom(pipeline, opts, 'set');
      const patch = patchFromFlags(opts);
      if (scope.kind === 'stage' && patch.budget) throw new InvalidInputError('--budget is per pipeline: set it without --stage');
      await (await services.policies()).setPolicy(scope, patch, await ctx.by(), io.now());
      io.out(`set ${describeScope(scope)}: ${describePatch(patch)} (operator-owned: deploys will not overwrite it)`);
    });

  subcommand(policy, 'import')
    .description('write the policies of a cdk.json into the table as a deploy does (operator-owned items are kept)')
    .option('--config <path>', 'cdk.json, or a bare autoRetry JSON file (default: ./cdk.json)')
    .option('--dry-run', 'print what would change, and write nothing')
    .addHelpText('after', '\nExamples:\n  autoretry policy import --config cdk.json --dry-run\n  autoretry policy import --config cdk.json')
    .action(async (opts: { config?: string; dryRun?: boolean }) => {
      const path = opts.config ?? defaultConfigPath();
      if (!path) throw new InvalidInputError('--config: no cdk.json here; name one with --config <path>');
      const { seeds: policies } = readConfigOrThrow(loadConfig(path));
      if (opts.dryRun) {
        // A dry run writes nothing, so it needs no table: without one it shows a first deploy.
        let existing: StoredPolicy[] = [];
        try {
          existing = await (await services.policies()).listPolicies();
        } catch (error) {
          if (!isTableUnavailable(error)) throw error;
          io.err(`note: no table to compare with (${error instanceof Error ? error.message : String(error)}); showing a first deploy`);
        }
        for (const line of importDiff(policies, existing)) io.out(line);
        io.out('dry run: nothing written');
        return;
      }
      const admin = await services.policies();
      for (const line of importDiff(policies, await admin.listPolicies())) io.out(line);
      const result = await admin.importPolicies(policies, io.now());
      io.out(
        `imported: ${result.written.length} written, ${result.keptOperatorChanges.length} kept as operators changed them, ${result.removed.length} removed`,
      );
    });

  subcommand(policy, 'delete')
    .description('delete a policy item; the next deploy writes cdk.json’s version again, if it has one')
    .argument('[pipeline]', 'pipeline name')
    .option('--default', 'delete the default policy')
    .option('--stage <stage>', 'delete one stage override')
    .addHelpText('after', '\nExample:\n  autoretry policy delete web-app --stage Deploy')
    .action(async (pipeline: string | undefined, opts: { default?: boolean; stage?: string }) => {
      const scope = scopeFrom(pipeline, opts, 'delete');
      const deleted = await (await services.policies()).deletePolicy(scope);
      io.out(deleted ? `deleted ${describeScope(scope)}` : `${describeScope(scope)} has no policy item; nothing deleted`);
    });

  subcommand(policy, 'list')
    .description('list every policy item and who owns it')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  autoretry policy list --json')
    .action(async (opts: { json?: boolean }) => {
      const items = await (await services.policies()).listPolicies();
      if (opts.json) return ctx.json(items);
      if (items.length === 0) {
        io.out('no policy items: the built-in default applies (maxRetries=2, cooldown=0, retryMode=FAILED_ACTIONS, mode=enforce)');
        return;
      }
      ctx.printTable(
        ['SCOPE', 'POLICY', 'OWNER', 'UPDATED'],
        items.map((i) => [
          describeScope(i.scope),
          describePatch(i.patch),
          i.source === 'cli' ? 'operator' : 'cdk.json',
          shortTime(i.updatedAt),
        ]),
      );
    });

  subcommand(policy, 'get')
    .description('show the effective policy of a pipeline or stage and where each field comes from')
    .argument('<pipeline>', 'pipeline name, or <account>/<pipeline> for the pipeline in one member account')
    .option('--stage <stage>', 'stage name')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  autoretry policy get web-app --stage Deploy\n  autoretry policy get 111122223333/web-app')
    .action(async (text: string, opts: { stage?: string; json?: boolean }) => {
      const { pipeline, account } = pipelineTarget(text);
      const stage = opts.stage ? pipelineName(opts.stage, 'stage') : undefined;
      const [context, records] = await Promise.all([
        (await services.policies()).load(pipeline, stage ?? '-', account),
        account === undefined ? (await services.ledger()).listRecords(pipeline) : Promise.resolve([]),
      ]);
      const resolved = resolvePolicy(context.layers);
      const known = context.layers.pipeline !== undefined || context.layers.stage !== undefined || records.length > 0;
      if (opts.json) return ctx.json({ pipeline, account, stage, known, paused: context.paused, ...resolved });
      if (!known) {
        io.err(
          `note: pipeline ${pipeline} has no policy of its own and no retry history in this table; check the name. The default applies:`,
        );
      }
      const { policy: p, sources } = resolved;
      io.out(`${text}${stage ? `/${stage}` : ''}${context.paused ? `  ${style.paint('PAUSED', 'red')}` : ''}`);
      ctx.printTable(
        ['FIELD', 'VALUE', 'FROM'],
        POLICY_FIELDS.map((field) => [CONFIG_KEYS[field], describeValue(field, p[field]), sources[field]]),
        '  ',
      );
    });

  subcommand(policy, 'explain')
    .description('what would happen to a failure like this one, and which rule decides it')
    .argument('<pipeline>', 'pipeline name, or <account>/<pipeline>')
    .requiredOption('--stage <stage>', 'stage name')
    .option('--code <code>', 'the failed action’s error code, e.g. JobFailed')
    .option('--message <text>', 'the failure message or summary')
    .option('--category <category>', 'the action category: Source, Build, Test, Deploy, Approval, Invoke, Compute', 'Build')
    .option('--provider <provider>', 'the action provider, e.g. CodeBuild', 'CodeBuild')
    .addOption(
      new Option('--class <class>', 'why the provider says it failed, as the classifier would (default: unknown)').choices([
        ...FAILURE_CLASSES,
      ]),
    )
    .option('--evidence <text>', 'what the provider said, shown with the class')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry policy explain web-app --stage Test --code JobFailed --message "Build timed out" --category Test\n' +
        '  autoretry policy explain web-app --stage Build --class infrastructure \\\n' +
        '    --evidence "CodeBuild build web-app:1b2c3d4e… failed in PROVISIONING: BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE"',
    )
    .action(
      async (
        text: string,
        opts: {
          stage: string;
          code?: string;
          message?: string;
          category: string;
          provider: string;
          class?: FailureClass;
          evidence?: string;
          json?: boolean;
        },
      ) => {
        const { pipeline, account } = pipelineTarget(text);
        pipelineName(opts.stage, 'stage');
        if (opts.evidence !== undefined && opts.class === undefined)
          throw new InvalidInputError('--evidence needs --class: the class it explains');
        const context = await (await services.policies()).load(pipeline, opts.stage, account);
        const explanation = explainFailure(pipeline, opts.stage, context, opts, io.now());
        if (opts.json) return ctx.json(explanation);
        io.out(explanation.summary);
        io.out(`  decided by: ${explanation.decidedBy}`);
        if (explanation.classification) io.out(`  class: ${explanation.classification.class} (${explanation.classification.evidence})`);
      },
    );
}
