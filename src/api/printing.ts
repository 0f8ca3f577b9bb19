// Cells of printer columns that need more than a JSONPath. (The Table builder adds the Name and Age columns itself and
// turns `date` values into ages.)

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5KiB", 12.34 GiB → "12.3GiB": binary units, at most three significant digits past the bytes. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))}${BINARY_UNITS[unit]}`;
}

/** done/total as a whole percentage ("42%"), or undefined when the total is not known. */
export function formatPercent(done: number | undefined, total: number | undefined): string | undefined {
  if (done === undefined || !total) return undefined;
  return `${Math.min(100, Math.floor((done / total) * 100))}%`;
}
