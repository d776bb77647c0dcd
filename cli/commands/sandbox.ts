import type { Command } from 'commander';
import { readConfigOrThrow } from '../../policy/config';
import { InvalidInputError } from '../../policy/errors';
import { type CommandContext, subcommand } from '../context';
import { defaultConfigPath, loadConfig } from './simulate';

/** `autoretry sandbox`: the local services, running, for trying the CLI with no AWS account. */
export function registerSandboxCommand(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  subcommand(program, 'sandbox')
    .description(
      'start local DynamoDB (and the CodePipeline, SQS and SNS emulators), load the policies, and print how to point the CLI at them',
    )
    .option('--config <path>', 'cdk.json (or a bare autoRetry JSON file) whose policies to load (default: ./cdk.json)')
    .option(
      '--play <scenarios>',
      'play scripted failures into it first (comma-separated simulate scenarios, or all), so history, status and report have something to show',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry sandbox   # then, in another shell, the export lines it prints, and: autoretry policy list\n  autoretry sandbox --play flaky-build,exhausted   # then: autoretry history web-app; autoretry report',
    )
    .action(async (opts: { config?: string; play?: string }) => {
      const path = opts.config ?? defaultConfigPath();
      const { seeds: policies } = readConfigOrThrow(path ? loadConfig(path) : undefined);
      // Loaded on demand: the sandbox pulls in dynalite and the emulators.
      const { LocalAws } = require('../../local/local-aws') as typeof import('../../local/local-aws');
      const simulation = require('../../local/simulation') as typeof import('../../local/simulation');
      const scenarios = opts.play === undefined ? [] : chosenScenarios(opts.play, simulation.SCENARIOS);
      const aws = new LocalAws();
      await aws.start();
      const notes: string[] = [];
      if (scenarios.length > 0) {
        await simulation.seedForPlay(aws, { policies, onNote: (note) => notes.push(note) });
        const results = await simulation.playScenarios(aws, scenarios, { policies });
        for (const r of results) notes.push(`played ${r.scenario}: ${r.pipeline}/${r.stage}, ${r.retries} retries, ${r.outcome}`);
      } else {
        await aws.seed(policies);
      }
      const env = {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: aws.dynamo.endpoint,
        AWS_ENDPOINT_URL_CODEPIPELINE: aws.codepipeline.endpoint,
        AWS_ENDPOINT_URL_SQS: aws.sqs.endpoint,
        AWS_ENDPOINT_URL_SNS: aws.sns.endpoint,
        // The CLI asks STS who is calling, for the audit trail of what it writes.
        AWS_ENDPOINT_URL_STS: await aws.startSts(),
        TABLE_NAME: aws.tableName,
      };
      io.out(`# codepipeline-auto-retry sandbox: ${policies.length} policies loaded from ${path ?? 'nowhere (built-in policy)'}`);
      for (const note of notes) io.out(`# ${note}`);
      io.out('# in another shell, paste these lines, then run autoretry as usual (policy list, policy set, pause, status …):');
      for (const [k, v] of Object.entries(env)) io.out(`export ${k}=${v}`);
      io.out('# Ctrl-C stops the sandbox; its table lives in memory only.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await aws.stop();
    });
}

/** `--play`: scenario names, comma-separated, or `all`. */
function chosenScenarios<S extends { readonly name: string }>(text: string, all: readonly S[]): S[] {
  if (text.trim() === 'all') return [...all];
  const names = text.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidInputError(
      `--play: no scenario ${JSON.stringify(unknown[0] ?? '')}; one of ${all.map((s) => s.name).join(', ')}, or all`,
    );
  }
  return all.filter((s) => names.includes(s.name));
}
