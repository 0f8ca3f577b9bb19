// JSON patch (RFC 6902), the `application/json-patch+json` PATCH of `kubectl patch --type=json` and of controllers
// that guard a change with a `test` operation. fast-json-patch applies it; this module maps its failures to the
// Status kube-apiserver answers: an unreadable patch is 400, a patch that does not apply (failed `test`, missing
// path) is 422 Invalid with the generic upstream message — plus a cause saying which operation failed and why.
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { badRequest, StatusError, tooLarge } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';

/** kube-apiserver's `maxJSONPatchOperations`. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

// Errors about the shape of an operation, found before anything is applied.
const MALFORMED = new Set([
  'SEQUENCE_NOT_AN_ARRAY',
  'OPERATION_NOT_AN_OBJECT',
  'OPERATION_OP_INVALID',
  'OPERATION_PATH_INVALID',
  'OPERATION_FROM_REQUIRED',
  'OPERATION_VALUE_REQUIRED',
  'OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED',
]);

const NOT_APPLICABLE: Record<string, string> = {
  TEST_OPERATION_FAILED: 'test failed',
  OPERATION_PATH_UNRESOLVABLE: 'doc is missing path',
  OPERATION_PATH_CANNOT_ADD: 'doc is missing path',
  OPERATION_FROM_UNRESOLVABLE: 'doc is missing from path',
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: 'invalid array index in path',
  OPERATION_VALUE_OUT_OF_BOUNDS: 'array index out of bounds in path',
};

// What kube-apiserver sends for any patch that fails to apply (apimachinery's NewGenericServerResponse for 422).
function doesNotApply(detail: string): StatusError {
  return new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    causes: [{ reason: 'FieldValueInvalid', message: detail }],
  });
}

function operationName(op: unknown): string {
  const { op: kind, path } = (op ?? {}) as { op?: unknown; path?: unknown };
  return `${String(kind)} operation at ${JSON.stringify(path)}`;
}

/** Applies a parsed JSON-patch body to a copy of `obj`; the input is never modified. */
export function applyJsonPatch(obj: KubeObject, patch: unknown): KubeObject {
  if (!Array.isArray(patch)) throw badRequest('a JSON patch must be an array of operations');
  if (patch.length > MAX_JSON_PATCH_OPERATIONS)
    throw tooLarge(`The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`);
  let result: unknown;
  try {
    result = jsonpatch.applyPatch(obj, patch as Operation[], true, false).newDocument;
  } catch (err) {
    if (err instanceof jsonpatch.JsonPatchError) {
      const where = `json patch operation ${err.index ?? 0} (${operationName(err.operation)})`;
      // fast-json-patch appends the operation and document to its message; the first line is the reason.
      const reason = err.message.split('\n')[0];
      if (MALFORMED.has(err.name)) throw badRequest(`${where} is invalid: ${reason}`);
      throw doesNotApply(`${where}: ${NOT_APPLICABLE[err.name] ?? reason}`);
    }
    // fast-json-patch throws a TypeError for `__proto__` and `constructor/prototype` paths.
    if (err instanceof TypeError) throw badRequest('a JSON patch may not address "__proto__" or "constructor/prototype"');
    throw err;
  }
  if (typeof result !== 'object' || result === null || Array.isArray(result)) throw doesNotApply('the patched document is not a JSON object');
  return result as KubeObject;
}
