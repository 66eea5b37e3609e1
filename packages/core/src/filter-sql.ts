import type { EventFilter, FilterItem, JsonValue } from './filter.js';

/**
 * A filter as SQL text. The text never holds a value: every value becomes a parameter through `Params`,
 * so the same builders serve a plain statement (`$3`) and a statement a server function runs with
 * `EXECUTE ... USING` one text array (`$1[3]`). Both are planned with their values (an unnamed
 * statement, or a one-shot `EXECUTE` plan): never a generic plan. A guard whose filter is made of payload
 * containments is not SQL text at all: `containments` gives them to the append function's static statement.
 */

/** Collects a statement's parameter values (always text) and hands out their placeholders. */
export class Params {
  readonly values: string[] = [];
  readonly #placeholder: (position: number) => string;

  /** `placeholder(n)` is the SQL for the n-th value (1-based), e.g. `$n` or `$1[n]`. */
  constructor(placeholder: (position: number) => string) {
    this.#placeholder = placeholder;
  }

  /** The placeholder of a new parameter holding `value`, as text. */
  text(value: string): string {
    this.values.push(value);
    return `${this.#placeholder(this.values.length)}::text`;
  }

  /** The placeholder of a new parameter holding `value` as JSON, cast to jsonb. */
  jsonb(value: JsonValue): string {
    return `${this.text(JSON.stringify(value))}::jsonb`;
  }
}

/** The WHERE condition of a read: the filter's items ORed, and its bounds. */
export function readCondition(filter: EventFilter, params: Params): string {
  const items = filter.items.map((item) => itemCondition(item, params));
  const conditions: string[] = [];
  if (items.length === 1) conditions.push(items[0] as string);
  else if (items.length > 1) conditions.push(`(${items.map((item) => `(${item})`).join(' OR ')})`);
  conditions.push(...boundConditions(filter, params));
  return conditions.length > 0 ? conditions.join(' AND ') : 'true';
}

/**
 * The guard: an expression of the largest position matching `filter`, 0 when none does. One max per
 * branch, so each is read the cheapest safe way:
 * - an item of event types only: one max per type, from the end of the `(event_type, sequence_number)`
 *   index;
 * - an item with predicates: its payload containment is fenced (`OFFSET 0`), so the planner cannot turn
 *   the max into a backward walk of the primary key that filters every row (with a default row estimate
 *   it does, and the walk reads the whole table when the boundary's events are old), nor AND it with the
 *   event type index (without statistics, on a fresh table, it does, and then reads every event of the
 *   type); it reads only the rows of its payload values, through the payload index, and filters them by
 *   type and bounds above the fence;
 * - no items: the max within the bounds.
 */
export function guardExpression(filter: EventFilter, table: string, params: Params): string {
  const bounds = boundConditions(filter, params);
  const where = (conditions: string[]) => (conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '');
  const branches: string[] = [];
  if (filter.items.length === 0) {
    branches.push(`(SELECT max(sequence_number) FROM ${table}${where(bounds)})`);
  }
  for (const item of filter.items) {
    if (item.predicates.length === 0) {
      for (const type of item.eventTypes) {
        const condition = `event_type = ${params.text(type)}`;
        branches.push(`(SELECT max(sequence_number) FROM ${table}${where([condition, ...bounds])})`);
      }
    } else {
      const matching = `SELECT sequence_number, event_type, occurred_at FROM ${table} WHERE ${payloadCondition(item, params)} OFFSET 0`;
      const outside = [...typeCondition(item, params), ...bounds];
      branches.push(`(SELECT max(sequence_number) FROM (${matching}) AS matching${where(outside)})`);
    }
  }
  return `coalesce(greatest(${branches.join(', ')}), 0)`;
}

/**
 * The filter as payload containments, when it is made of them: one per predicate of an any-of item, one
 * per all-of item (its predicates as one object), each with its item's event types (empty: any type).
 * A matching event contains one of them and has one of its types. Undefined for a filter the server's
 * static guard does not take (see migrations/v5.ts): no items, an item of event types only, an all-of item
 * with two predicates on one key, or a bound.
 */
export interface Containment {
  readonly payload: Record<string, JsonValue>;
  readonly eventTypes: readonly string[];
}

/** See `Containment`. */
export function containments(filter: EventFilter): Containment[] | undefined {
  const bounded =
    filter.occurredFrom !== undefined ||
    filter.occurredUntil !== undefined ||
    filter.sequenceNumberHigherThan !== undefined;
  if (bounded || filter.items.length === 0) return undefined;
  const result: Containment[] = [];
  for (const item of filter.items) {
    if (item.predicates.length === 0) return undefined;
    const { eventTypes } = item;
    if (!item.allPredicatesMustMatch) {
      for (const { key, value } of item.predicates) result.push({ payload: { [key]: value }, eventTypes });
      continue;
    }
    const objects = allOf(item);
    if (objects.length > 1) return undefined;
    result.push({ payload: objects[0] as Record<string, JsonValue>, eventTypes });
  }
  return result;
}

function itemCondition(item: FilterItem, params: Params): string {
  const conditions = typeCondition(item, params);
  if (item.predicates.length > 0) conditions.push(payloadCondition(item, params));
  return conditions.join(' AND ');
}

function typeCondition(item: FilterItem, params: Params): string[] {
  if (item.eventTypes.length === 0) return [];
  const types = item.eventTypes.map((type) => params.text(type));
  return [types.length === 1 ? `event_type = ${types[0]}` : `event_type IN (${types.join(', ')})`];
}

function payloadCondition(item: FilterItem, params: Params): string {
  const containments = item.allPredicatesMustMatch
    ? allOf(item).map((object) => `payload @> ${params.jsonb(object)}`)
    : item.predicates.map(({ key, value }) => `payload @> ${params.jsonb({ [key]: value })}`);
  const joined = containments.join(item.allPredicatesMustMatch ? ' AND ' : ' OR ');
  return containments.length === 1 ? joined : `(${joined})`;
}

/**
 * All-of predicates as few containment objects as possible: `payload @> {"a": 1, "b": 2}` holds exactly
 * when both `{"a": 1}` and `{"b": 2}` are contained. Predicates on one key stay separate objects.
 */
function allOf(item: FilterItem): Record<string, JsonValue>[] {
  const objects: Record<string, JsonValue>[] = [];
  for (const { key, value } of item.predicates) {
    const target = objects.find((object) => !Object.hasOwn(object, key));
    if (target) target[key] = value;
    else objects.push({ [key]: value });
  }
  return objects;
}

function boundConditions(filter: EventFilter, params: Params): string[] {
  const conditions: string[] = [];
  if (filter.occurredFrom) {
    conditions.push(`occurred_at >= ${params.text(filter.occurredFrom.toISOString())}::timestamptz`);
  }
  if (filter.occurredUntil) {
    conditions.push(`occurred_at <= ${params.text(filter.occurredUntil.toISOString())}::timestamptz`);
  }
  if (filter.sequenceNumberHigherThan !== undefined) {
    conditions.push(`sequence_number > ${params.text(filter.sequenceNumberHigherThan.toString())}::bigint`);
  }
  return conditions;
}
