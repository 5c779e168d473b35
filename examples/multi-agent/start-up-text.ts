// What the example prints at start-up: which database and model it uses, and curl commands to
// paste into another terminal. The example's test runs these very commands, so they stay true.
import type { MountedAgent } from './agents.js';

export interface StartUpFacts {
  url: string;
  database: string;
  model: string;
  agents: MountedAgent[];
}

export function startUpText({ url, database, model, agents }: StartUpFacts): string {
  const json = `-H 'content-type: application/json'`;
  const user = `-H 'x-user-id: alice'`;
  return `
express-agent-router: multi-agent example

  database   ${database}
  model      ${model}
  agents     ${agents.map(({ agent, prefix }) => `${prefix} (${agent.name})`).join(', ')}
  chat page  ${url}/

Try it from another terminal, as user "alice" (one block at a time):

# 1. Create a chat and keep its id in $CHAT
CHAT=$(curl -s -X POST ${url}/chats ${user} ${json} -d '{"title":"Goblin caves"}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).chat_id')

# 2. Tell the character creator who your hero is
curl -s -w '\\n' -X POST ${url}/characters/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"My hero is a dwarf fighter named Brom."}'

# 3. Ask another agent: the world builder remembers what you told the character creator
curl -s -w '\\n' -X POST ${url}/world/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"Where does my hero come from?"}'

# 4. Stream a reply (server-sent events): the campaign assistant rolls the dice with a tool
curl -sN -X POST ${url}/campaign/stream ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"Roll for initiative!"}'

# 5. Read the history: one conversation, every agent's turns
curl -s -w '\\n' ${url}/chats/$CHAT ${user}

# 6. Clear the history (the chat itself stays)
curl -s -w '\\n' -X PUT ${url}/chats/$CHAT ${user} ${json} -d '{"conversation":null}'

# 7. A new chat: the world builder still knows Brom (the character creator remembered him)
CHAT=$(curl -s -X POST ${url}/chats ${user} ${json} -d '{"title":"Back to the caves"}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).chat_id')
curl -s -w '\\n' -X POST ${url}/world/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"Where does my hero come from?"}'

# 8. What is remembered about you, in every chat (DELETE /memories forgets it all)
curl -s -w '\\n' ${url}/memories ${user}

Listening on ${url} (Ctrl+C to stop)`;
}
