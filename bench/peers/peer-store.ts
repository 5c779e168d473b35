/** What the benchmark asks of each peer library: the same work PostgresSession does. */
export interface PeerStore {
  readonly name: string;
  /** Fills a session with `count` messages in bulk, with SQL in the library's own row format. */
  seed(sessionId: string, count: number): Promise<void>;
  /** Reads the latest 50 messages of a session, oldest first, the library's usual way. */
  readLast50(sessionId: string): Promise<unknown[]>;
  /** One conversational turn: read the latest 50 messages, then store a user message and a reply. */
  turn(sessionId: string, i: number): Promise<void>;
  close(): Promise<void>;
}

/** About 370 characters, like the library's own benchmark items. */
export function sampleText(i: number): string {
  return `message ${i} `.padEnd(370, 'lorem ipsum dolor sit amet ');
}
