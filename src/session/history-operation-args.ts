import {
  protocol,
  UserError,
  type AgentInputItem,
  type SessionHistoryTransaction,
} from '@openai/agents';
import { InvalidArgumentError } from '../errors.js';
import { describeInvalidId } from './session-id.js';

/**
 * Checks and snapshots the arguments of `applyHistoryTransaction` and `applyHistoryMutations`
 * before any SQL runs, so that a bad call changes nothing.
 *
 * The rules follow the SDK's MemorySession (agents-core 0.20, memory/memorySession.mjs), with the
 * same error class and message wherever it throws: `UserError`. Where only PostgresSession
 * refuses something (a value JSON cannot hold exactly, an operation id the varchar(255) column
 * cannot hold), it throws the library's `InvalidArgumentError`, so the two kinds stay apart.
 */

/** A value as it is stored in a jsonb column and read back. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface HistoryTransactionArgsSnapshot {
  operationId: string;
  transaction: SessionHistoryTransaction;
}

/** MemorySession's wording, kept so that callers can match either session's errors alike. */
const INVALID_DATA = 'Session history transaction items contain invalid or unsupported data.';

/** A value MemorySession refuses too (a function, a class instance, a cycle...). */
class UnsupportedValue extends Error {}
/** A value MemorySession keeps in memory but JSON cannot hold exactly (NaN, bytes...). */
class NotJson extends Error {}

export function snapshotHistoryTransactionArgs(args: unknown): HistoryTransactionArgsSnapshot {
  let operationId: unknown;
  let transaction: unknown;
  try {
    if (!args || typeof args !== 'object') throw new Error('Missing transaction arguments.');
    operationId = Reflect.get(args, 'operationId');
    transaction = Reflect.get(args, 'transaction');
  } catch {
    throw new UserError('Session history transaction arguments are invalid.');
  }
  if (typeof operationId !== 'string' || !operationId.trim()) {
    throw new UserError('Session history transaction operationId must be a non-empty string.');
  }
  const problem = describeInvalidId(operationId);
  if (problem) throw new InvalidArgumentError(`applyHistoryTransaction: operationId ${problem}.`);
  if (!transaction || typeof transaction !== 'object') {
    throw new UserError('Session history transaction must be an object.');
  }
  return { operationId, transaction: snapshotTransaction(transaction) };
}

function snapshotTransaction(transaction: object): SessionHistoryTransaction {
  const record = transaction as Record<string, unknown>;
  // Checked on the caller's object, before undefined-valued keys are dropped, as MemorySession does.
  let keys: string[];
  try {
    keys = Object.keys(record);
  } catch {
    throw new UserError(INVALID_DATA);
  }
  const has = (key: string) => Object.prototype.hasOwnProperty.call(record, key);
  if (record.type === 'append_items') {
    if (keys.length !== 2 || !has('items') || !Array.isArray(record.items)) {
      throw new UserError('Session history append transaction fields are invalid.');
    }
    return { type: 'append_items', items: snapshotItems(record.items) };
  }
  if (record.type !== 'replace_suffix') {
    throw new UserError('Unsupported session history transaction type.');
  }
  if (
    keys.length !== 3 ||
    !has('expectedSuffix') ||
    !has('replacement') ||
    !Array.isArray(record.expectedSuffix) ||
    !Array.isArray(record.replacement)
  ) {
    throw new UserError('Session history suffix transaction fields are invalid.');
  }
  return {
    type: 'replace_suffix',
    expectedSuffix: snapshotItems(record.expectedSuffix),
    replacement: snapshotItems(record.replacement),
  };
}

/** JSON snapshots of the items, each a valid `protocol.ModelItem`. */
function snapshotItems(items: unknown[]): AgentInputItem[] {
  let snapshots: JsonValue;
  try {
    snapshots = snapshotJson(items, 'items');
  } catch (error) {
    if (error instanceof NotJson) {
      throw new InvalidArgumentError(`applyHistoryTransaction: ${error.message}`);
    }
    throw new UserError(INVALID_DATA);
  }
  for (const snapshot of snapshots as JsonValue[]) {
    if (!isModelItem(snapshot)) throw new UserError(INVALID_DATA);
  }
  return snapshots as unknown as AgentInputItem[];
}

export function isModelItem(value: unknown): value is AgentInputItem {
  return protocol.ModelItem.safeParse(value).success;
}

export interface ReplaceFunctionCallSnapshot {
  type: 'replace_function_call';
  callId: string;
  replacement: AgentInputItem;
}

/**
 * Checks the arguments of `applyHistoryMutations`. MemorySession checks nothing here (a bad call
 * fails somewhere inside it, or is silently ignored when the mutation type is unknown); this
 * session refuses a malformed call, or a mutation type it does not know, before changing anything.
 */
export function snapshotHistoryMutations(args: unknown): ReplaceFunctionCallSnapshot[] {
  const mutations =
    args && typeof args === 'object' ? (args as { mutations?: unknown }).mutations : undefined;
  if (!Array.isArray(mutations)) {
    throw new InvalidArgumentError('applyHistoryMutations(args): args.mutations must be an array.');
  }
  return mutations.map((mutation: unknown, index) => {
    const where = `applyHistoryMutations: mutation ${index}`;
    if (!mutation || typeof mutation !== 'object') {
      throw new InvalidArgumentError(`${where} is not an object.`);
    }
    const { type, callId, replacement } = mutation as Record<string, unknown>;
    if (type !== 'replace_function_call') {
      throw new InvalidArgumentError(
        `${where} has type ${JSON.stringify(type)}; the only type this version knows is "replace_function_call".`,
      );
    }
    if (typeof callId !== 'string' || callId.length === 0) {
      throw new InvalidArgumentError(`${where} needs a non-empty string callId.`);
    }
    if (!replacement || typeof replacement !== 'object' || Array.isArray(replacement)) {
      throw new InvalidArgumentError(`${where} needs a replacement item (an object).`);
    }
    let snapshot: JsonValue;
    try {
      snapshot = snapshotJson(replacement, 'replacement');
    } catch (error) {
      throw new InvalidArgumentError(`${where}: ${(error as Error).message}`);
    }
    return { type, callId, replacement: snapshot as unknown as AgentInputItem };
  });
}

/**
 * A deep copy holding only what JSON holds, read through own enumerable data properties (never
 * getters, never `toJSON`), the way MemorySession snapshots values. Object properties whose value
 * is `undefined` are dropped, as `JSON.stringify` and `addItems` drop them.
 */
function snapshotJson(value: unknown, path: string, ancestors = new WeakSet<object>()): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new NotJson(`${path} is ${value}, which JSON cannot hold (it would read back as null).`);
    }
    return value;
  }
  if (typeof value !== 'object') {
    throw new UnsupportedValue(`${path} is a ${typeof value}.`);
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    throw new NotJson(`${path} holds binary data, which JSON cannot hold; pass it as a data: URL.`);
  }
  if (ancestors.has(value)) throw new UnsupportedValue(`${path} is cyclic.`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const copy = new Array<JsonValue>(value.length);
      for (let index = 0; index < value.length; index++) {
        const descriptor = Object.getOwnPropertyDescriptor(value, index);
        if (!descriptor?.enumerable || !('value' in descriptor)) {
          throw new UnsupportedValue(`${path}[${index}] is missing or an accessor.`);
        }
        // No ModelItem holds undefined in an array, so MemorySession refuses it too.
        if (descriptor.value === undefined) throw new UnsupportedValue(`${path}[${index}] is undefined.`);
        copy[index] = snapshotJson(descriptor.value, `${path}[${index}]`, ancestors);
      }
      return copy;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new UnsupportedValue(`${path} is not a plain object.`);
    }
    const copy: { [key: string]: JsonValue } = {};
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key !== 'string') throw new UnsupportedValue(`${path} has a symbol key.`);
      const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
      if (!descriptor.enumerable || !('value' in descriptor)) {
        throw new UnsupportedValue(`${path}.${key} is not a plain data property.`);
      }
      if (descriptor.value === undefined) continue;
      // defineProperty, so that a key named "__proto__" stays an ordinary key.
      Object.defineProperty(copy, key, {
        value: snapshotJson(descriptor.value, `${path}.${key}`, ancestors),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  } finally {
    ancestors.delete(value);
  }
}

/**
 * Deep equality of two JSON values, object key order aside: the comparison MemorySession uses
 * (`structurallyEqual`), and the one jsonb needs, since it reorders keys.
 */
export function sameJson(left: unknown, right: unknown): boolean {
  if (Object.is(left, right)) return true;
  if (Array.isArray(left) || Array.isArray(right)) {
    return (
      Array.isArray(left) &&
      Array.isArray(right) &&
      left.length === right.length &&
      left.every((entry, index) => sameJson(entry, right[index]))
    );
  }
  if (left === null || right === null || typeof left !== 'object' || typeof right !== 'object') {
    // 0 and -0 are one number in JSON.
    return typeof left === 'number' && left === right;
  }
  const leftKeys = Object.keys(left).sort();
  const rightKeys = Object.keys(right).sort();
  return (
    leftKeys.length === rightKeys.length &&
    leftKeys.every(
      (key, index) =>
        key === rightKeys[index] &&
        sameJson((left as Record<string, unknown>)[key], (right as Record<string, unknown>)[key]),
    )
  );
}
