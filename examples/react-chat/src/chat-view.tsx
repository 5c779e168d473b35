// The open chat, on useChat: the library's AI SDK endpoints of the picked agent are its back end.
//   POST {prefix}/chat                  a message, or the answers to tool approvals
//   GET  {prefix}/chat/:id/stream       resume: true, on mount (an answer still being written)
//   POST /chats/:id/runs/:run_id/cancel the Stop button (stop() alone only drops the connection)
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport, isToolUIPart, lastAssistantMessageIsCompleteWithApprovalResponses } from 'ai';
import { useMemo, useState, type FormEvent } from 'react';
import { cancelRun, pendingApprovalPrefix, type ChatMessage } from './api.js';
import { MessageView } from './message-view.js';

export interface ChatViewProps {
  chatId: string;
  userId: string;
  /** The picked agent's mount: the next message goes to `{prefix}/chat`. */
  prefix: string;
  /** The stored history (`GET {prefix}/chat/:id/messages`), for useChat to start from. */
  initialMessages: ChatMessage[];
  /** Called when an answer is over (finished, stopped, failed or waiting for approval). */
  onSettled: () => void;
}

export function ChatView({ chatId, userId, prefix, initialMessages, onSettled }: ChatViewProps) {
  // A new transport when the agent changes: useChat uses the newest one, in the same chat.
  const transport = useMemo(
    () =>
      new DefaultChatTransport<ChatMessage>({
        api: `${prefix}/chat`,
        headers: { 'x-user-id': userId },
        prepareSendMessagesRequest: async ({ id, messages, trigger, messageId }) => {
          const newest = messages.at(-1);
          // Answers to tool approvals go to the agent whose run asked for them (the chat names
          // it), whichever agent is picked now.
          const asked = newest?.role === 'assistant' ? await pendingApprovalPrefix(id, userId) : undefined;
          // The server reads only the newest message (the stored history is the truth), so that
          // is all there is to send, however long the chat.
          return { api: `${asked ?? prefix}/chat`, body: { id, messages: newest ? [newest] : [], trigger, messageId } };
        },
      }),
    [prefix, userId],
  );
  const { messages, sendMessage, status, error, stop, addToolApprovalResponse, clearError } = useChat<ChatMessage>({
    id: chatId,
    messages: initialMessages,
    transport,
    // After a reload mid-answer, the answer is replayed from its start and followed to its end.
    resume: true,
    // Once every call that waits has an answer, they go to the server, which resumes the run.
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
    onFinish: onSettled,
  });
  const [input, setInput] = useState('');
  const [stopped, setStopped] = useState<string[]>([]);
  const [stopFailure, setStopFailure] = useState<string>();

  const busy = status === 'submitted' || status === 'streaming';
  const answer = messages.at(-1)?.role === 'assistant' ? messages.at(-1) : undefined;
  const waiting = !busy && answer?.parts.some((part) => isToolUIPart(part) && part.state === 'approval-requested');

  const send = (event: FormEvent) => {
    event.preventDefault();
    const text = input.trim();
    // While a run waits for approval, the chat takes no new message (409 approval_pending).
    if (!text || busy || waiting) return;
    setInput('');
    clearError();
    setStopFailure(undefined);
    void sendMessage({ text });
  };

  const stopAnswer = async () => {
    // The answer's message id is its run's id. Cancelled, the run ends its stream itself (an
    // `abort` part); stop() then closes what is left of the request on this side.
    if (answer) {
      try {
        await cancelRun(chatId, answer.id, userId);
        setStopped((ids) => [...ids, answer.id]);
      } catch (failure) {
        setStopFailure((failure as Error).message);
      }
    }
    await stop();
  };

  return (
    <div className="chat" data-testid="chat" data-status={status} data-waiting={waiting || undefined}>
      <div className="messages" data-testid="messages">
        {messages.length === 0 && <p className="muted empty">A new chat: pick an agent and say something.</p>}
        {messages.map((message) => (
          <MessageView
            key={message.id}
            message={message}
            streaming={busy && message === answer}
            stopped={stopped.includes(message.id)}
            onDecide={(id, approved) => void addToolApprovalResponse({ id, approved })}
          />
        ))}
      </div>
      <form className="composer" onSubmit={send}>
        <textarea
          data-testid="input"
          value={input}
          placeholder="Say something… (Enter sends, Shift+Enter for a new line)"
          onChange={(event) => setInput(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey) send(event);
          }}
        />
        <button data-testid="send" disabled={busy || waiting}>
          Send
        </button>
        {/* Once the answer streams: its message id, the run's, is known. */}
        {status === 'streaming' && (
          <button type="button" className="secondary" data-testid="stop" onClick={() => void stopAnswer()}>
            Stop
          </button>
        )}
      </form>
      <p className="status" data-testid="status" data-role={error || stopFailure ? 'error' : undefined}>
        {statusLine(status, error, stopFailure, waiting, answer !== undefined && stopped.includes(answer.id))}
      </p>
    </div>
  );
}

function statusLine(status: string, error: Error | undefined, stopFailure: string | undefined, waiting: boolean | undefined, stopped: boolean): string {
  if (error) return `Error: ${errorMessage(error)}`;
  if (stopFailure) return `Could not stop: ${stopFailure}`;
  if (status === 'submitted') return 'Sending…';
  if (status === 'streaming') return 'Answering…';
  if (waiting) return 'Waiting for your decision: the run goes on once every call is approved or rejected.';
  if (stopped) return 'Stopped: the run was cancelled, and the chat keeps what was said.';
  return '';
}

/**
 * useChat's error for a refused request carries the response body: the library's JSON error
 * envelope (`{ success: false, error: { code, message } }`). A failed run's error is its text.
 */
function errorMessage(error: Error): string {
  try {
    const body = JSON.parse(error.message) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return `${body.error.message} (${body.error.code})`;
  } catch {
    // Not JSON: the error part's text.
  }
  return error.message;
}
