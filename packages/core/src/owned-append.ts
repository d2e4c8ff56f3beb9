import type { NewEvent, StoredEvent } from './event.js';

/**
 * A store's synchronous append for events the session manager built itself and hands over. Not part
 * of the public API: the in-memory store registers one, and the manager uses it instead of
 * `appendEvents` when it finds one.
 *
 * The caller promises:
 * - every event belongs to the same session;
 * - every event is valid (`validateNewEvent` would pass) and has an id the manager just generated,
 *   except the events in `supplied`: those carry an id an adapter supplied (which may be stored
 *   already) or a field that failed validation, and the store validates them and looks them up;
 * - the event objects are the store's from now on: the store may keep them as its stored events and
 *   sets `sequence` on them; the caller never changes them again.
 *
 * Otherwise the contract of `SessionStore.appendEvents` holds: an id already stored returns the
 * stored event, a batch is all or nothing, order is kept, failures throw `AsmError`.
 */
export type OwnedAppend = (events: NewEvent[], supplied: ReadonlySet<NewEvent> | undefined) => StoredEvent[];

const ownedAppends = new WeakMap<object, OwnedAppend>();

/** Registers the owned append of a store (called by the store's factory). */
export function registerOwnedAppend(store: object, append: OwnedAppend): void {
  ownedAppends.set(store, append);
}

/** The owned append of a store, or `undefined` when the store has none. */
export function ownedAppendOf(store: object): OwnedAppend | undefined {
  return ownedAppends.get(store);
}
