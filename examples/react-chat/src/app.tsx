// The page: who you are (demo only), which agent you talk to, your chats, and the open chat.
// Who you are and which agent you picked are kept in localStorage, so a reload keeps them.
// The open chat's id is in the address (#chat=...), so a reload comes back to it; a new chat gets
// an id made here, as useChat expects, and the server creates the chat with its first message.
import { useCallback, useEffect, useState } from 'react';
import { listAgents, listChats, loadMessages, type AgentInfo, type ChatMessage, type ChatSummary } from './api.js';
import { ChatList } from './chat-list.js';
import { ChatView } from './chat-view.js';

/** The open chat; `messages` is its stored history once loaded (useChat reads it once per chat id). */
interface OpenChat {
  id: string;
  messages?: ChatMessage[];
}

/** A chat made here: nothing stored yet, nothing to load. */
const newChat = (): OpenChat => ({ id: crypto.randomUUID(), messages: [] });

export function App() {
  const [userId, setUserId] = useState(() => localStorage.getItem('user') || 'alice');
  const [agents, setAgents] = useState<AgentInfo[]>([]);
  const [prefix, setPrefix] = useState(() => localStorage.getItem('agent') ?? '');
  const [chat, setChat] = useState<OpenChat>(() => {
    const id = chatIdInAddress();
    return id ? { id } : newChat();
  });
  const [chats, setChats] = useState<ChatSummary[]>([]);
  const [failure, setFailure] = useState<string>();

  useEffect(() => {
    listAgents()
      .then((list) => {
        setAgents(list);
        setPrefix((current) => (list.some((each) => each.prefix === current) ? current : (list[0]?.prefix ?? '')));
      })
      .catch((error: Error) => setFailure(error.message));
  }, []);

  useEffect(() => {
    history.replaceState(null, '', `#chat=${encodeURIComponent(chat.id)}`);
  }, [chat.id]);

  // Any agent's prefix serves the whole chat's history: the agents share it.
  const historyPrefix = agents[0]?.prefix;
  useEffect(() => {
    if (chat.messages || !historyPrefix) return;
    let current = true;
    loadMessages(historyPrefix, chat.id, userId)
      .then((messages) => current && setChat({ id: chat.id, messages }))
      .catch((error: Error) => current && setFailure(error.message));
    return () => {
      current = false;
    };
  }, [chat, historyPrefix, userId]);

  const refreshChats = useCallback(() => {
    listChats(userId)
      .then(setChats)
      .catch((error: Error) => setFailure(error.message));
  }, [userId]);
  useEffect(refreshChats, [refreshChats]);

  const changeUser = (next: string) => {
    if (!next || next === userId) return;
    localStorage.setItem('user', next);
    setUserId(next);
    setChat(newChat());
  };

  const pickAgent = (next: string) => {
    localStorage.setItem('agent', next);
    setPrefix(next);
  };

  const agent = agents.find((each) => each.prefix === prefix);
  return (
    <>
      <header>
        <h1>express-agent-router · React chat (useChat)</h1>
        {/* Demo only: the server trusts this header. A real app gets the user from its authentication. */}
        <label>
          User (x-user-id header, demo only){' '}
          <input
            data-testid="user"
            defaultValue={userId}
            key={userId}
            size={12}
            onBlur={(event) => changeUser(event.currentTarget.value.trim())}
            onKeyDown={(event) => event.key === 'Enter' && changeUser(event.currentTarget.value.trim())}
          />
        </label>
      </header>
      <main>
        <aside>
          <button type="button" className="secondary" data-testid="new-chat" onClick={() => setChat(newChat())}>
            New chat
          </button>
          <h2>Your chats</h2>
          <ChatList chats={chats} activeId={chat.id} onOpen={(id) => id !== chat.id && setChat({ id })} />
        </aside>
        <section>
          <div className="toolbar">
            <label htmlFor="agent">Talk to</label>
            {/* Switching agent keeps the chat: the next message goes to {prefix}/chat with the same id. */}
            <select id="agent" data-testid="agent" value={prefix} onChange={(event) => pickAgent(event.target.value)}>
              {agents.map((each) => (
                <option key={each.prefix} value={each.prefix}>
                  {each.name}
                </option>
              ))}
            </select>
            <span className="muted">{agent ? `${agent.prefix}: ${agent.description}` : ''}</span>
          </div>
          {failure && (
            <p className="failure" data-testid="failure">
              {failure}
            </p>
          )}
          {chat.messages && prefix ? (
            <ChatView
              key={`${userId} ${chat.id}`}
              chatId={chat.id}
              userId={userId}
              prefix={prefix}
              initialMessages={chat.messages}
              onSettled={refreshChats}
            />
          ) : (
            <p className="muted empty">Loading…</p>
          )}
        </section>
      </main>
    </>
  );
}

function chatIdInAddress(): string | undefined {
  const match = /^#chat=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]!) : undefined;
}
