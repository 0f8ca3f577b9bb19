// Field manager names: the `fieldManager` query parameter, or what the Go server derives from the User-Agent.
import type { FieldError } from '../../api/meta.ts';
import { goQuote, goRune, isPrintable, utf8Length } from './gofmt.ts';

/** FieldManagerMaxLength, in bytes. */
export const FIELD_MANAGER_MAX_LENGTH = 128;

/**
 * The manager of a non-apply write that names none: the User-Agent up to its first `/`, without unprintable
 * characters, cut at 128 bytes (`kubectl/v1.31.0 (linux/amd64) …` → `kubectl`). apiserver `prefixFromUserAgent`.
 */
export function managerFromUserAgent(userAgent: string): string {
  let out = '';
  for (const char of userAgent.split('/')[0]!) {
    if (!isPrintable(char)) continue;
    if (utf8Length(out + char) > FIELD_MANAGER_MAX_LENGTH) break;
    out += char;
  }
  return out;
}

/**
 * ValidateFieldManager: at most 128 bytes of printable characters. An empty name is valid here (it means "not set");
 * apply additionally requires one, see `validateApplyFieldManager`.
 */
export function validateFieldManager(fieldManager: string, path = 'fieldManager'): FieldError[] {
  const errors: FieldError[] = [];
  if (utf8Length(fieldManager) > FIELD_MANAGER_MAX_LENGTH) {
    errors.push({ type: 'FieldValueTooLong', field: path, message: `Too long: may not be more than ${FIELD_MANAGER_MAX_LENGTH} bytes` });
  }
  let position = 0;
  for (const char of fieldManager) {
    if (!isPrintable(char)) {
      errors.push({
        type: 'FieldValueInvalid',
        field: path,
        message: `Invalid value: ${goQuote(fieldManager)}: invalid character ${goRune(char)} (at position ${position})`,
      });
    }
    position += utf8Length(char);
  }
  return errors;
}

/** The fieldManager checks of ValidatePatchOptions for an apply patch (reported as a 422 on `PatchOptions`). */
export function validateApplyFieldManager(fieldManager: string): FieldError[] {
  const required: FieldError[] =
    fieldManager === '' ? [{ type: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }] : [];
  return [...required, ...validateFieldManager(fieldManager)];
}
