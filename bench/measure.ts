/**
 * Measurement helpers. These machines are shared and their speed drifts, so contenders are never
 * timed in separate phases: every round runs a batch of each, in alternating order, and a
 * comparison is the median of the per-round ratios. Absolute figures are medians over rounds,
 * after a warm-up.
 */

export interface Contender {
  name: string;
  /** One operation. `i` counts operations, so contenders can vary their input. */
  run(i: number): Promise<unknown>;
}

export interface Settings {
  warmup: number;
  rounds: number;
  /** Operations per contender per round. */
  batch: number;
}

export interface Comparison {
  /** Median milliseconds per operation, by contender name. */
  medianMs: Record<string, number>;
  /** Median over rounds of (contender time / baseline time), by contender name. */
  ratio: Record<string, number>;
  /** Milliseconds per operation in each round, by contender name. */
  perRound: Record<string, number[]>;
}

/** Median over rounds of a's time / b's time. */
export function ratioOf(result: Comparison, a: string, b: string): number {
  const times = result.perRound[a]!;
  return median(times.map((time, round) => time / result.perRound[b]![round]!));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs the contenders side by side; the first one is the baseline of the ratios. */
export async function compare(contenders: Contender[], settings: Settings): Promise<Comparison> {
  let counter = 0;
  for (const contender of contenders) {
    for (let i = 0; i < settings.warmup; i++) await contender.run(counter++);
  }
  const perRound: Record<string, number[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < settings.rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      const start = performance.now();
      for (let i = 0; i < settings.batch; i++) await contender.run(counter++);
      perRound[contender.name]!.push((performance.now() - start) / settings.batch);
    }
  }
  const baseline = perRound[contenders[0]!.name]!;
  const medianMs: Record<string, number> = {};
  const ratio: Record<string, number> = {};
  for (const contender of contenders) {
    const times = perRound[contender.name]!;
    medianMs[contender.name] = median(times);
    ratio[contender.name] = median(times.map((time, round) => time / baseline[round]!));
  }
  return { medianMs, ratio, perRound };
}

/** Times one operation many times (after a warm-up) and returns the median in ms. */
export async function timeMedian(run: (i: number) => Promise<unknown>, settings: Settings): Promise<number> {
  for (let i = 0; i < settings.warmup; i++) await run(i);
  const times: number[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < settings.batch; i++) await run(i);
    times.push((performance.now() - start) / settings.batch);
  }
  return median(times);
}

/** One loop per key, each calling `run(key)` again and again for `ms`; the latency of every call. */
export async function loopEach(keys: string[], ms: number, run: (key: string) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  const deadline = performance.now() + ms;
  await Promise.all(
    keys.map(async (key) => {
      while (performance.now() < deadline) {
        const start = performance.now();
        await run(key);
        latencies.push(performance.now() - start);
      }
    }),
  );
  return latencies;
}
