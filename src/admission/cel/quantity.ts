// The Kubernetes quantity library for CEL (k8s.io/apiserver/pkg/cel/library/quantity.go): `quantity("1.5Gi")`,
// `isQuantity(s)`, comparisons, arithmetic and conversions. Values are numbers in base units, as src/api/quantity.ts
// computes them; that loses precision past 2^53, which upstream's arbitrary-precision Quantity does not.
import type { Environment } from '@marcbachmann/cel-js';
import { isQuantity, parseQuantity } from '../../api/quantity.ts';

export class Quantity {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

function quantity(text: string): Quantity {
  return new Quantity(parseQuantity(text));
}

function asInteger(q: Quantity): bigint {
  if (!Number.isInteger(q.value) || !Number.isSafeInteger(q.value)) {
    throw new Error('cannot convert value to integer');
  }
  return BigInt(q.value);
}

const compare = (a: Quantity, b: Quantity): bigint => BigInt(Math.sign(a.value - b.value));

export function registerQuantityLibrary(env: Environment): Environment {
  return env
    .registerType('Quantity', Quantity)
    .registerFunction('quantity(string): Quantity', quantity)
    .registerFunction('isQuantity(string): bool', (s: string) => isQuantity(s))
    .registerFunction('Quantity.sign(): int', (q: Quantity) => BigInt(Math.sign(q.value)))
    .registerFunction('Quantity.isInteger(): bool', (q: Quantity) => Number.isSafeInteger(q.value))
    .registerFunction('Quantity.asInteger(): int', asInteger)
    .registerFunction('Quantity.asApproximateFloat(): double', (q: Quantity) => q.value)
    .registerFunction('Quantity.add(Quantity): Quantity', (a: Quantity, b: Quantity) => new Quantity(a.value + b.value))
    .registerFunction('Quantity.add(int): Quantity', (a: Quantity, b: bigint) => new Quantity(a.value + Number(b)))
    .registerFunction('Quantity.sub(Quantity): Quantity', (a: Quantity, b: Quantity) => new Quantity(a.value - b.value))
    .registerFunction('Quantity.sub(int): Quantity', (a: Quantity, b: bigint) => new Quantity(a.value - Number(b)))
    .registerFunction('Quantity.compareTo(Quantity): int', compare)
    .registerFunction('Quantity.isGreaterThan(Quantity): bool', (a: Quantity, b: Quantity) => a.value > b.value)
    .registerFunction('Quantity.isLessThan(Quantity): bool', (a: Quantity, b: Quantity) => a.value < b.value);
}
