/** codepipeline-auto-retry: the construct, its props, and the deployable stack. */
export { AutoRetryStack, type AutoRetryStackProps } from './auto-retry-stack';
export { PipelineAutoRetry } from './pipeline-auto-retry';
export * from './props';
