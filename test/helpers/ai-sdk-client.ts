import {
  AbstractChat,
  asSchema,
  DefaultChatTransport,
  readUIMessageStream,
  uiMessageChunkSchema,
  type ChatInit,
  type ChatState,
  type ChatStatus,
  type UIMessage,
} from 'ai';

/**
 * The AI SDK's own client, in Node: `useChat`'s state machine (`AbstractChat`) on a state kept in
 * memory, talking to an endpoint through `DefaultChatTransport`, which checks every chunk against
 * the `ai` package's own schema.
 */
class MemoryChatState<M extends UIMessage> implements ChatState<M> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  constructor(public messages: M[] = []) {}
  pushMessage = (message: M) => {
    this.messages = [...this.messages, message];
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (index: number, message: M) => {
    this.messages = this.messages.map((current, i) => (i === index ? message : current));
  };
  snapshot = <T>(value: T): T => structuredClone(value);
}

export class NodeChat extends AbstractChat<UIMessage> {
  constructor({ messages, ...init }: ChatInit<UIMessage>) {
    super({ ...init, state: new MemoryChatState<UIMessage>(messages) });
  }
}

/** A transport for `{prefix}/chat` that sends the given user's header. */
export function chatTransport(url: string, userId: string) {
  return new DefaultChatTransport<UIMessage>({ api: url, headers: { 'x-user-id': userId } });
}

/** The raw chunks of one POST, each checked with the `ai` package's own chunk schema. */
export async function postChunks(url: string, userId: string, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': userId },
    body: JSON.stringify(body),
  });
  return { response, chunks: await readChunks(response) };
}

export async function readChunks(response: Response): Promise<{ type: string; [key: string]: unknown }[]> {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return [];
  const text = await response.text();
  const chunks = [];
  for (const block of text.split('\n\n')) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6))
      .join('\n');
    if (!data || data === '[DONE]') continue;
    const chunk = JSON.parse(data);
    const checked = await asSchema(uiMessageChunkSchema).validate!(chunk);
    if (!checked.success) throw new Error(`chunk fails ai's own schema: ${data}: ${checked.error.message}`);
    chunks.push(chunk);
  }
  return chunks;
}

/** Sends one request with the transport and reads the answer into UIMessage snapshots. */
export async function sendWithTransport(url: string, userId: string, chatId: string, messages: UIMessage[]) {
  const stream = await chatTransport(url, userId).sendMessages({
    chatId,
    messages,
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  let last: UIMessage | undefined;
  for await (const message of readUIMessageStream<UIMessage>({ stream, terminateOnError: true })) last = message;
  return last;
}

/** Waits until the chat is done (ready or error), as an app waits on `status`. */
export async function settled(chat: NodeChat, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (chat.status === 'submitted' || chat.status === 'streaming') {
    if (Date.now() > deadline) throw new Error('the chat did not settle in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
