/**
 * Runs `work` for every item with at most `concurrency` runs in flight, in item order, and resolves
 * when all have finished. A run that throws does not stop the others; `work` reports its own
 * failures (start-up and shutdown must reach every partition). `shouldStop` is asked before each
 * new run starts: once it says so, no further item is started.
 */
export async function forEachConcurrently<Item>(
  items: readonly Item[],
  concurrency: number,
  work: (item: Item) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length && !shouldStop()) {
      const item = items[next++]!;
      await work(item).catch(() => {});
    }
  };
  const runners: Promise<void>[] = [];
  for (let index = 0; index < Math.min(concurrency, items.length); index++) runners.push(runner());
  await Promise.all(runners);
}
