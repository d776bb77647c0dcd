/** codepipeline-auto-retry: the construct, its props, and the deployable stack. */
export { AutoRetryStack, type AutoRetryStackProps } from './auto-retry-stack';
export { MemberStack, type MemberStackProps, PipelineAutoRetryMember, type PipelineAutoRetryMemberProps } from './member';
export { PipelineAutoRetry } from './pipeline-auto-retry';
export * from './props';
export { RetryOn } from './retry-on';
