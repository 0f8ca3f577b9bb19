// Admission attributes for plugin tests: a request for a Database in namespace shop unless told otherwise.
import type { AdmissionAttributes } from '../../src/admission/interface.ts';

export function attributes(overrides: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: 'CREATE',
    resource: { group: 'strongroom.dev', version: 'v1alpha1', resource: 'databases' },
    subresource: '',
    kind: { group: 'strongroom.dev', version: 'v1alpha1', kind: 'Database' },
    namespace: 'shop',
    name: 'orders',
    dryRun: false,
    userInfo: { name: 'alice', groups: ['system:authenticated'], extra: {} },
    ...overrides,
  };
}
