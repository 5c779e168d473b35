// An offline stand-in for an OpenAI model, so the examples run with no API key and no network.
//
// It implements the Agents SDK's `Model` interface by hand: `getResponse` for `/run`, and
// `getStreamedResponse` for `/stream`, which sends the reply word by word with a short pause so
// streaming can be watched in a terminal or the chat page. What it says is decided by a
// "script" each example passes in: a plain function of the conversation the SDK sent it. The
// SDK sends the whole stored history on every call, so a script that quotes earlier messages
// shows that the memory works, which is the point of the examples.
import { randomUUID } from 'node:crypto';
import { Usage } from '@openai/agents';
import type { AgentInputItem, Model, ModelRequest, ModelResponse, protocol } from '@openai/agents';

/** What the demo model does on one call: answer with text, or call one of the agent's tools. */
export type DemoStep =
  | { type: 'text'; text: string }
  | { type: 'tool'; name: string; arguments: Record<string, unknown> };

/** The conversation as a script sees it, taken from the input the SDK sent the model. */
export interface DemoConversation {
  /** Every user message of the chat, oldest first; the last one is being answered. */
  userMessages: string[];
  /** The newest user message. */
  latest: string;
  /** The assistant replies before the newest user message, oldest first (from any agent). */
  earlierReplies: string[];
  /** Tool results produced in this turn, after the newest user message: the model called a tool. */
  toolResults: { name: string; output: string }[];
  /** The names of the tools the agent has. */
  tools: string[];
  /** The instructions the model was sent (with what the router added, such as recalled memories). */
  instructions: string;
}

/** Decides the demo model's next step. Must be deterministic: same conversation, same step. */
export type DemoScript = (conversation: DemoConversation) => DemoStep;

export interface DemoModelOptions {
  /** Pause between two streamed words. Defaults to 25 ms: fast, yet visibly streamed. */
  wordDelayMs?: number;
}

export class DemoModel implements Model {
  /** Shown as the agent's model by `GET {prefix}/info`. */
  readonly model = 'offline-demo';
  readonly #script: DemoScript;
  readonly #wordDelayMs: number;

  constructor(script: DemoScript, options: DemoModelOptions = {}) {
    this.#script = script;
    this.#wordDelayMs = options.wordDelayMs ?? 25;
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    request.signal?.throwIfAborted();
    const { output, usage } = this.#respond(request);
    return { output, usage: new Usage(usage), responseId: `demo-${randomUUID()}` };
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<protocol.StreamEvent> {
    request.signal?.throwIfAborted();
    const { output, usage } = this.#respond(request);
    yield { type: 'response_started' };
    for (const item of output) {
      if (item.type !== 'message') continue;
      for (const part of item.content) {
        if (part.type !== 'output_text') continue;
        // One delta per word (with its trailing space), as a real model streams tokens.
        for (const word of part.text.match(/\S+\s*/g) ?? []) {
          await pause(this.#wordDelayMs, request.signal);
          yield { type: 'output_text_delta', delta: word };
        }
      }
    }
    yield { type: 'response_done', response: { id: `demo-${randomUUID()}`, usage, output } };
  }

  #respond(request: ModelRequest): { output: DemoOutput[]; usage: UsageFigures } {
    const items: AgentInputItem[] =
      typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : request.input;
    const conversation = readConversation(items, request.tools.map((tool) => tool.name), request.systemInstructions ?? '');
    const step = this.#script(conversation);
    const output: DemoOutput[] =
      step.type === 'text'
        ? [
            {
              type: 'message',
              id: `msg_${randomUUID()}`,
              role: 'assistant',
              status: 'completed',
              content: [{ type: 'output_text', text: step.text }],
            },
          ]
        : [
            {
              type: 'function_call',
              id: `fc_${randomUUID()}`,
              callId: `call_${randomUUID()}`,
              name: step.name,
              status: 'completed',
              arguments: JSON.stringify(step.arguments),
            },
          ];
    // Words stand in for tokens: not what OpenAI would bill, but enough for the usage totals
    // that the chats and runs record to move.
    const inputTokens = countWords(items.map((item) => textOf(item)).join(' '));
    const outputTokens = step.type === 'text' ? countWords(step.text) : countWords(JSON.stringify(step.arguments));
    return { output, usage: { requests: 1, inputTokens, outputTokens, totalTokens: inputTokens + outputTokens } };
  }
}

/** What the demo model produces: a text message or a function call. */
type DemoOutput = protocol.AssistantMessageItem | protocol.FunctionCallItem;

interface UsageFigures {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** The conversation a script decides on, from the items the SDK sent the model. */
function readConversation(items: AgentInputItem[], tools: string[] = [], instructions = ''): DemoConversation {
  const lastUser = items.findLastIndex((item) => 'role' in item && item.role === 'user');
  const messages = (role: 'user' | 'assistant', list: AgentInputItem[]) =>
    list.filter((item) => 'role' in item && item.role === role).map((item) => textOf(item));
  const userMessages = messages('user', items);
  return {
    userMessages,
    latest: userMessages.at(-1) ?? '',
    earlierReplies: messages('assistant', items.slice(0, Math.max(lastUser, 0))),
    toolResults: items
      .slice(lastUser + 1)
      .flatMap((item) => (item.type === 'function_call_result' ? [{ name: item.name, output: textOf(item) }] : [])),
    tools,
    instructions,
  };
}

/** The text of a message (its text parts joined) or of a tool result's output. */
function textOf(item: AgentInputItem): string {
  const content: unknown = 'role' in item ? item.content : item.type === 'function_call_result' ? item.output : '';
  if (typeof content === 'string') return content;
  const parts = Array.isArray(content) ? content : [content];
  return parts.map((part: { text?: unknown } | null) => (typeof part?.text === 'string' ? part.text : '')).join('');
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Waits, but gives up at once when the run is aborted (the client left, or the lease was lost). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The first `count` words of a text, with an ellipsis when it was longer. */
export function firstWords(text: string, count: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  return words.length > count ? `${words.slice(0, count).join(' ')}…` : words.join(' ');
}
