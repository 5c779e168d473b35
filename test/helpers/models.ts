import { Usage, type Model, type ModelRequest, type ModelResponse, type protocol } from '@openai/agents';
import { assistantMessage } from '@openai/agents/testing';

/**
 * A model that answers "w1 w2 ... wN", streamed one word every `delayMs`, and gives up when its
 * run is aborted: a long answer a test can act on mid-way (drop a client, follow, cancel).
 * Not streamed, it answers the whole text after the same total time.
 */
export class WordsModel implements Model {
  readonly #words: string[];
  readonly #delayMs: number;

  constructor({ words = 20, delayMs = 50 }: { words?: number; delayMs?: number } = {}) {
    this.#words = Array.from({ length: words }, (_, i) => `w${i + 1}`);
    this.#delayMs = delayMs;
  }

  /** The whole answer. */
  get text(): string {
    return this.#words.join(' ');
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    await waitFor(this.#delayMs * this.#words.length, request.signal);
    return { output: [assistantMessage(this.text)], usage: new Usage(), responseId: 'words' };
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<protocol.StreamEvent> {
    yield { type: 'response_started' };
    for (const [index, word] of this.#words.entries()) {
      await waitFor(this.#delayMs, request.signal);
      yield { type: 'output_text_delta', delta: index === 0 ? word : ` ${word}` };
    }
    const usage = { requests: 1, inputTokens: 0, outputTokens: 0, totalTokens: 0, inputTokensDetails: [], outputTokensDetails: [] };
    yield { type: 'response_done', response: { id: 'words', usage, output: [assistantMessage(this.text)] } };
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function waitFor(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    // The listener goes when the wait ends: a run's signal sees one wait per word, and listeners
    // left behind would pile up on it (Node warns past 10).
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
