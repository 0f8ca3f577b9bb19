// Kubernetes resource quantities ("500m", "1.5Gi", "2", 1e3): the syntax of k8s.io/apimachinery resource.Quantity
// and its numeric value, precise enough to compare sizes and to derive engine settings.
//
// Not @kubernetes/client-node's `quantityToScalar`: it is not exported from the package's entry point, it throws on
// quantities Kubernetes accepts ("1.5Gi": it converts "1.5" to a BigInt), answers a bigint for binary and large
// decimal suffixes but a number for the others, and has no syntax check to match the OpenAPI pattern against.

/** The pattern controller-gen puts on `resource.Quantity` fields of CRDs. */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

const QUANTITY = new RegExp(QUANTITY_PATTERN);
const SPLIT = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/;

const MULTIPLIERS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Whether `q` is a quantity as Kubernetes accepts it (a YAML number such as `cpu: 2` counts). */
export function isQuantity(q: unknown): q is string | number {
  if (typeof q === 'number') return Number.isFinite(q);
  return typeof q === 'string' && QUANTITY.test(q);
}

/** The value of a quantity in base units (bytes, cores). Throws on malformed input; check `isQuantity` first. */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const match = QUANTITY.test(q) ? SPLIT.exec(q) : null;
  if (!match) throw new Error(`quantities must match the regular expression '${QUANTITY_PATTERN}'`);
  const [, number, suffix] = match as unknown as [string, string, string];
  if (suffix.startsWith('e') || suffix.startsWith('E')) return Number(number) * 10 ** Number(suffix.slice(1));
  return Number(number) * (MULTIPLIERS[suffix] as number);
}
