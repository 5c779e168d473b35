import { randomUUID } from 'node:crypto';
import { Usage, type AgentInputItem, type Model, type ModelRequest, type ModelResponse, type protocol } from '@openai/agents';
import { assistantMessage, functionCall } from '@openai/agents/testing';
import { waitFor } from '../test/helpers/models.js';

/**
 * The soak's offline model: it answers "w1 w2 ... wN", streamed one word every `delayMs`, and
 * gives up when its run is aborted (so that cancels land mid-answer). With `tool`, it first asks
 * for that tool (with the last user text as its `task` argument) and answers once it has the
 * tool's result. One instance serves every run of a process: it keeps no state between calls,
 * unlike a `ScriptedModel`, whose steps would run out during a long soak.
 */
export class SoakModel implements Model {
  readonly #words: string;
  readonly #delayMs: number;
  readonly #tool: string | undefined;

  constructor({ words, delayMs, tool }: { words: number; delayMs: number; tool?: string }) {
    this.#words = Array.from({ length: words }, (_, i) => `w${i + 1}`).join(' ');
    this.#delayMs = delayMs;
    this.#tool = tool;
  }

  #output(request: ModelRequest): protocol.OutputModelItem[] {
    const input = request.input as AgentInputItem[];
    const last = input.at(-1) as { type?: string } | undefined;
    if (this.#tool && last?.type !== 'function_call_result') {
      return [functionCall(this.#tool, { task: lastUserText(input) }, { callId: `call_${randomUUID()}` })];
    }
    return [assistantMessage(this.#words)];
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    await waitFor(this.#delayMs * 4, request.signal);
    return { output: this.#output(request), usage: new Usage({ requests: 1 }), responseId: 'soak' };
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<protocol.StreamEvent> {
    yield { type: 'response_started' };
    const output = this.#output(request);
    if (output[0]?.type === 'message') {
      for (const [index, word] of this.#words.split(' ').entries()) {
        await waitFor(this.#delayMs, request.signal);
        yield { type: 'output_text_delta', delta: index === 0 ? word : ` ${word}` };
      }
    } else {
      await waitFor(this.#delayMs, request.signal);
    }
    const usage = { requests: 1, inputTokens: 0, outputTokens: 0, totalTokens: 0, inputTokensDetails: [], outputTokensDetails: [] };
    yield { type: 'response_done', response: { id: 'soak', usage, output } };
  }
}

function lastUserText(input: AgentInputItem[]): string {
  const users = input.filter((item) => 'role' in item && item.role === 'user') as { content: unknown }[];
  const content = users.at(-1)?.content;
  return typeof content === 'string' ? content : JSON.stringify(content);
}
