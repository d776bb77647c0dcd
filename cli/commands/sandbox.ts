import type { Command } from 'commander';
import { readConfigOrThrow } from '../../policy/config';
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
    .addHelpText(
      'after',
      '\nExample:\n  autoretry sandbox   # then, in another shell, the export lines it prints, and: autoretry policy list',
    )
    .action(async (opts: { config?: string }) => {
      const path = opts.config ?? defaultConfigPath();
      const { seeds: policies } = readConfigOrThrow(path ? loadConfig(path) : undefined);
      // Loaded on demand: the sandbox pulls in dynalite and the emulators.
      const { LocalAws } = require('../../local/local-aws') as typeof import('../../local/local-aws');
      const aws = new LocalAws();
      await aws.start();
      await aws.seed(policies);
      const env = {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: aws.dynamo.endpoint,
        AWS_ENDPOINT_URL_CODEPIPELINE: aws.codepipeline.endpoint,
        AWS_ENDPOINT_URL_SQS: aws.sqs.endpoint,
        AWS_ENDPOINT_URL_SNS: aws.sns.endpoint,
        TABLE_NAME: aws.tableName,
      };
      io.out(`# codepipeline-auto-retry sandbox: ${policies.length} policies loaded from ${path ?? 'nowhere (built-in policy)'}`);
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
