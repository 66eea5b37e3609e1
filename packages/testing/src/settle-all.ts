/**
 * Like Promise.all, but waits until every promise has settled before it rejects (with the first failure),
 * so that nothing still runs in the background when the caller goes on (cleans up, reports).
 */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}
