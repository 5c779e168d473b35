import type { ChatBody, RunRecordBody } from './chat-payloads.js';
import type { Chat, RunRecord } from './chat-store.js';

/** How a chat looks in HTTP answers. */
export function chatJson(chat: Chat): ChatBody {
  return {
    chat_id: chat.id,
    user_id: chat.userId,
    title: chat.title,
    metadata: chat.metadata,
    item_count: chat.itemCount,
    last_agent_name: chat.lastAgentName,
    usage: {
      input_tokens: chat.usage.inputTokens,
      output_tokens: chat.usage.outputTokens,
      total_tokens: chat.usage.totalTokens,
    },
    active_run_id: chat.activeRunId,
    pending_approval: chat.pendingApproval && {
      run_id: chat.pendingApproval.runId,
      prefix: chat.pendingApproval.prefix,
      approvals: chat.pendingApproval.approvals,
    },
    created_at: chat.createdAt.toISOString(),
    updated_at: chat.updatedAt.toISOString(),
  };
}

/** How a run record looks in HTTP answers. */
export function runJson(run: RunRecord): RunRecordBody {
  return {
    run_id: run.id,
    chat_id: run.chatId,
    status: run.status,
    agent_name: run.agentName,
    last_agent_name: run.lastAgentName,
    streamed: run.streamed,
    prefix: run.prefix,
    background: run.background,
    cancel_requested: run.cancelRequested,
    approvals: run.approvals,
    input: run.input,
    final_output: run.finalOutput,
    error: run.error,
    item_count: run.itemCount,
    usage: {
      requests: run.usage.requests,
      input_tokens: run.usage.inputTokens,
      output_tokens: run.usage.outputTokens,
      total_tokens: run.usage.totalTokens,
    },
    started_at: run.startedAt.toISOString(),
    finished_at: run.finishedAt?.toISOString() ?? null,
    duration_ms: run.durationMs,
  };
}
