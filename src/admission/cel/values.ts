// Objects cross into CEL and back. JSON has one number type where CEL has int and double; kube-apiserver types each
// field by its OpenAPI schema. Without schemas at hand, a whole number is an int (replicas, ports, sizes: what
// policies compare with int literals such as `object.spec.replicas <= 5`) and any other number a double.

/** A JSON value as CEL sees it: whole numbers as bigint, everything else unchanged. */
export function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) if (child !== undefined) out[key] = toCel(child);
    return out;
  }
  return value;
}

/** A CEL result as JSON: ints back to numbers (within 2^53, as JSON can hold them). */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(fromCel);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), fromCel(v)]));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromCel(v)]));
  }
  return value;
}
