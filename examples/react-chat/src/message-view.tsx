import { getToolName, isToolUIPart, type DynamicToolUIPart, type ToolUIPart } from 'ai';
import type { ChatMessage } from './api.js';

type ToolPart = ToolUIPart | DynamicToolUIPart;

/** One message: its text, and a line per tool call with its state (Approve / Reject when asked). */
export function MessageView({
  message,
  streaming,
  stopped,
  onDecide,
}: {
  message: ChatMessage;
  streaming: boolean;
  stopped: boolean;
  onDecide: (approvalId: string, approved: boolean) => void;
}) {
  const who = message.role === 'user' ? 'You' : (message.metadata?.agent_name ?? 'assistant');
  return (
    <div className="message" data-testid="message" data-role={message.role} data-streaming={streaming || undefined}>
      <div className="meta">
        {who}
        {stopped && ' · stopped'}
      </div>
      {message.parts.map((part, index) => {
        if (part.type === 'text') {
          return (
            <div key={index} className="text">
              {part.text}
            </div>
          );
        }
        if (isToolUIPart(part)) return <ToolCall key={part.toolCallId} part={part} onDecide={onDecide} />;
        // step-start parts, and anything this page does not show.
        return null;
      })}
    </div>
  );
}

function ToolCall({ part, onDecide }: { part: ToolPart; onDecide: (approvalId: string, approved: boolean) => void }) {
  return (
    <div className="tool" data-testid="tool" data-state={part.state}>
      <code>
        {getToolName(part)}({JSON.stringify(part.input ?? {})})
      </code>
      {part.state === 'input-available' && <span className="muted"> running…</span>}
      {part.state === 'approval-requested' && (
        <span className="decide">
          <button type="button" data-testid="approve" onClick={() => onDecide(part.approval.id, true)}>
            Approve
          </button>
          <button type="button" className="secondary" data-testid="reject" onClick={() => onDecide(part.approval.id, false)}>
            Reject
          </button>
        </span>
      )}
      {part.state === 'approval-responded' && <span className="muted"> {part.approval.approved ? 'approved' : 'rejected'}…</span>}
      {part.state === 'output-available' && <div className="output">→ {show(part.output)}</div>}
      {part.state === 'output-error' && <div className="output failed">→ {part.errorText}</div>}
      {part.state === 'output-denied' && <div className="output">→ rejected: it did not run</div>}
    </div>
  );
}

function show(output: unknown): string {
  return typeof output === 'string' ? output : JSON.stringify(output);
}
