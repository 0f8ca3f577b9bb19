// Order statistics over latency samples.

/** The nearest-rank percentile (`p` in 0..1) of unsorted samples. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function median(samples: ArrayLike<number>): number {
  return percentile(samples, 0.5);
}
