import { Session } from 'node:inspector/promises';

/** Where sampled CPU time went, by owner of the code that ran. */
export const CPU_GROUPS = ['product code', 'AWS SDK', 'local services', 'Node.js and GC'] as const;
export type CpuGroup = (typeof CPU_GROUPS)[number];
export type CpuShare = Record<CpuGroup, number>;

function groupOf(url: string): CpuGroup {
  if (/\/(lambda|contract)\//.test(url) && !url.includes('node_modules')) return 'product code';
  if (/node_modules\/(@smithy|@aws-sdk|@aws-lambda-powertools)\//.test(url)) return 'AWS SDK';
  if (/node_modules\/(dynalite|level|abstract-level|memory-level|level-|lazy|big\.js)/.test(url) || /\/local\//.test(url)) {
    return 'local services';
  }
  return 'Node.js and GC';
}

/**
 * Runs `work` under the V8 sampling profiler and returns its CPU time per call of `work`, in
 * milliseconds, by group. Powertools counts with the SDK: both are libraries the product builds on.
 */
export async function profileCpu(times: number, work: (i: number) => Promise<unknown>): Promise<CpuShare> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  for (let i = 0; i < times; i++) await work(i);
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const urls = new Map(profile.nodes.map((n) => [n.id, n.callFrame.url]));
  const share = Object.fromEntries(CPU_GROUPS.map((g) => [g, 0])) as CpuShare;
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => {
    share[groupOf(urls.get(id) ?? '')] += (deltas[i] ?? 0) / 1000 / times;
  });
  return share;
}
