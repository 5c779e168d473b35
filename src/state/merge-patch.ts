/**
 * Applies a JSON merge patch (RFC 7396) to a JSON value: objects merge key by key, `null`
 * removes a key, anything else replaces. Pure; neither argument is changed. Every key is an
 * ordinary one, `__proto__` included (JSON.parse makes it an own property, and so does this).
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, applyMergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value));
  }
  return result;
}

/**
 * Sets `object[key]` as an own property. A plain assignment to `__proto__` would change the
 * object's prototype instead, and the key would be lost when the object is stored.
 */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
