import type { Notice, NotifierPort } from '../ports';

/** One SNS Publish (the fields we use). */
export type Publish = (message: {
  readonly TopicArn: string;
  readonly Subject: string;
  readonly MessageStructure: 'json';
  readonly Message: string;
}) => Promise<void>;

export const NO_NOTIFIER: NotifierPort = { notify: async () => undefined };

export function consoleLink(notice: Pick<Notice, 'pipeline' | 'executionId' | 'region'>): string {
  const { region, pipeline, executionId } = notice;
  return `https://${region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${encodeURIComponent(pipeline)}/executions/${encodeURIComponent(executionId)}/timeline?region=${region}`;
}

/** The readable text: for email, and for anything that is not a chat client. */
export function noticeText(notice: Notice): string {
  return [
    `codepipeline-auto-retry: ${notice.pipeline} / ${notice.stage} — ${notice.kind}`,
    '',
    `Pipeline:   ${notice.pipeline}`,
    ...(notice.account ? [`Account:    ${notice.account} (${notice.region})`] : []),
    `Stage:      ${notice.stage}`,
    `Execution:  ${notice.executionId}`,
    `Why:        ${notice.reason}`,
    `Failure:    ${notice.failureSummary || 'no failure details in the pipeline state'}`,
    `Console:    ${consoleLink(notice)}`,
  ].join('\n');
}

/**
 * Publishes notices to the notifications topic. One message, two renderings: plain text for
 * email and other protocols, and an AWS Chatbot custom notification for Slack (https).
 */
export class SnsNotifier implements NotifierPort {
  private publish: Promise<Publish> | undefined;

  public constructor(
    private readonly topicArn: string,
    /** Makes the Publish call, on the first notice (the SNS client is loaded then). */
    private readonly loadSns: () => Promise<Publish>,
  ) {}

  public async notify(notice: Notice): Promise<void> {
    const text = noticeText(notice);
    const chatbot = {
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        title: `:warning: ${notice.pipeline} / ${notice.stage}: ${notice.kind}`,
        description: `${notice.reason}\n*Failure:* ${notice.failureSummary || '-'}\n*Execution:* <${consoleLink(notice)}|${notice.executionId}>`,
      },
    };
    this.publish ??= this.loadSns();
    const publish = await this.publish;
    await publish({
      TopicArn: this.topicArn,
      Subject: `auto-retry: ${notice.pipeline}/${notice.stage} ${notice.kind}`.slice(0, 100),
      MessageStructure: 'json',
      Message: JSON.stringify({ default: text, email: text, https: JSON.stringify(chatbot) }),
    });
  }
}
