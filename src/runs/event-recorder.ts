import type { AnyKysely } from '../db/schema.js';
import type { Logger } from '../http/logger.js';
import { encodeEvent, insertRunningEvents, type EncodedEvent } from './event-queries.js';
import type { RecordedRunEvent, RunEvent } from './run-payloads.js';

/** How long a run's new events wait before they are written together. */
export const EVENT_FLUSH_MS = 50;

export type EventListener = (event: RecordedRunEvent) => void;

/**
 * The events of one stretch of a run (from its start, or from a resume, to its next terminal
 * event). Each event gets the next id of the run; the events are kept in memory, so that
 * followers on this instance are fed without delay, and written to PostgreSQL in batches, at
 * most one statement per `EVENT_FLUSH_MS`, so that followers on other instances can read them.
 * The terminal event is not written here: the statement that records how the run ended writes
 * it with whatever is still unwritten, so that no follower sees one without the other.
 */
export class EventRecorder {
  readonly #db: AnyKysely;
  readonly #runId: string;
  readonly #logger: Logger;
  readonly #events: RecordedRunEvent[] = [];
  readonly #listeners = new Set<EventListener>();
  #unwritten: RecordedRunEvent[] = [];
  #writing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #nextId: number;
  #ended = false;
  /** The id the closing events start at, once prepared: a second attempt at the end reuses it. */
  #closingId: number | undefined;

  readonly #writeBatches: boolean;

  /**
   * `first` is the stretch's first event, already written with the run's start (or resume).
   * Without `writeBatches`, events between the first and the terminal one are kept for this
   * instance's followers only (the router's `recordEvents: false`).
   */
  constructor(db: AnyKysely, runId: string, first: RecordedRunEvent, logger: Logger, writeBatches = true) {
    this.#db = db;
    this.#runId = runId;
    this.#logger = logger;
    this.#writeBatches = writeBatches;
    this.#events.push(first);
    this.#nextId = first.id + 1;
  }

  /** The id of the first event this instance holds in memory. */
  get firstId(): number {
    return this.#events[0]!.id;
  }

  /** Records an event: it reaches this instance's followers now, PostgreSQL with the next batch. */
  emit(event: RunEvent): RecordedRunEvent {
    const recorded = { ...event, id: this.#nextId++ } as RecordedRunEvent;
    this.#events.push(recorded);
    if (this.#writeBatches) {
      this.#unwritten.push(recorded);
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.#write();
      }, EVENT_FLUSH_MS);
    }
    this.#notify(recorded);
    return recorded;
  }

  /**
   * Gives the run's closing events (its terminal event last, maybe `state.updated` before it)
   * their ids, and returns them with every event not yet written, encoded, for the statement that
   * records the run's end. Waits for a batch still being written first, so that the ids reach the
   * database in order. A second attempt at the end (the first could not be written) numbers its
   * closing events from the same id: only one attempt is ever written.
   */
  async prepareEnd(closing: readonly RunEvent[]): Promise<{ closing: RecordedRunEvent[]; events: EncodedEvent[] }> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    this.#closingId ??= this.#nextId;
    const base = this.#closingId;
    const recorded = closing.map((event, index) => ({ ...event, id: base + index }) as RecordedRunEvent);
    return { closing: recorded, events: [...this.#unwritten, ...recorded].map(encodeEvent) };
  }

  /** After the run's end was recorded (or could not be): followers here get the closing events. */
  publishEnd(closing: readonly RecordedRunEvent[]): void {
    this.#ended = true;
    this.#unwritten = [];
    for (const event of closing) {
      this.#events.push(event);
      this.#notify(event);
    }
    this.#listeners.clear();
  }

  /**
   * Calls `listener` with every event after `afterId` held in memory, then with each new one up
   * to the terminal event. Returns the function that stops it.
   */
  subscribe(afterId: number, listener: EventListener): () => void {
    for (const event of this.#events) if (event.id > afterId) listener(event);
    if (this.#ended) return () => {};
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(event: RecordedRunEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.warn(`A follower of run ${this.#runId} failed`, { error: String(error) });
      }
    }
  }

  /** Writes the batch; on failure its events stay, for the next batch or the run's end. */
  async #write(): Promise<void> {
    if (this.#writing || this.#unwritten.length === 0 || this.#ended) return;
    const batch = this.#unwritten;
    this.#unwritten = [];
    this.#writing = insertRunningEvents(this.#db, this.#runId, batch.map(encodeEvent)).catch((error) => {
      this.#unwritten = [...batch, ...this.#unwritten];
      this.#logger.warn(`Could not record events of run ${this.#runId}; they are written with its end`, {
        error: String(error),
      });
    });
    await this.#writing;
    this.#writing = undefined;
    if (this.#unwritten.length > 0 && !this.#ended) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.#write();
      }, EVENT_FLUSH_MS);
    }
  }
}
