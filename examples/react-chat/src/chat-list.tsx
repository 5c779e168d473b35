import type { ChatSummary } from './api.js';

/** The user's chats (`GET /chats`, most recently updated first); a click opens one. */
export function ChatList({ chats, activeId, onOpen }: { chats: ChatSummary[]; activeId: string; onOpen: (chatId: string) => void }) {
  return (
    <ul className="chat-list" data-testid="chat-list">
      {chats.map((chat) => (
        <li key={chat.chat_id}>
          <button
            type="button"
            data-testid="chat-item"
            className={chat.chat_id === activeId ? 'active' : ''}
            onClick={() => onOpen(chat.chat_id)}
          >
            {chat.title ?? '(untitled)'}
            <small>
              {chat.item_count} items{chat.last_agent_name ? ` · last: ${chat.last_agent_name}` : ''}
            </small>
          </button>
        </li>
      ))}
    </ul>
  );
}
