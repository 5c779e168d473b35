// The MCP example: an agent whose tools live in another process, an MCP server that keeps each
// user's tasks (task-server.ts). The app starts that server at start-up, hands it to the agent
// through the Agents SDK's MCPServerStdio, and closes it on shutdown once the runs are drained.
//
//   npm run example:mcp      (DATABASE_URL and OPENAI_API_KEY work as in the multi-agent example)
import { fileURLToPath } from 'node:url';
import express, { type Request } from 'express';
import { Agent, MCPServerStdio } from '@openai/agents';
import { createAgentRouter, createChatRouter, migrate } from 'express-agent-router';
import { openDatabase } from '../shared/database.js';
import { chooseModel } from '../shared/model-choice.js';
import { serve } from '../shared/serve.js';
import { taskScript } from '../tools/task-script.js';
import type { TaskContext } from '../tools/task-tools.js';
import { createDeleteTaskTool } from './delete-task-tool.js';
import { userMeta } from './user-meta.js';

const database = openDatabase();
await migrate(database.db);
const models = chooseModel();

const taskServerFile = fileURLToPath(new URL('./task-server.ts', import.meta.url));
const tasks = new MCPServerStdio({
  name: 'tasks',
  // The same Node, with tsx to run the TypeScript file; a published server would be e.g.
  // `npx -y some-mcp-server`. The child gets a minimal environment (PATH, HOME...), not this
  // process's: no DATABASE_URL, no OPENAI_API_KEY.
  command: process.execPath,
  args: ['--import', import.meta.resolve('tsx'), taskServerFile],
  // The first answer waits for tsx to compile the server, which takes a moment on a busy machine.
  clientSessionTimeoutSeconds: 15,
  // Whose tasks a call is about: the signed-in user, from the run context, in the call's `_meta`.
  // The tools take no user argument, so the model cannot name another user (user-meta.ts).
  toolMetaResolver: ({ runContext }) => userMeta((runContext.context as TaskContext | undefined)?.userId),
  // The model deletes through the app's own delete_task (delete-task-tool.ts), which needs approval.
  toolFilter: { blockedToolNames: ['delete_task'] },
});
try {
  await tasks.connect();
} catch (error) {
  console.error(`Could not start the task server (${taskServerFile}): ${(error as Error).message}`);
  await database.close();
  process.exit(1);
}
const taskTools = (await tasks.listTools()).map((each) => each.name);

const agent = new Agent<TaskContext>({
  name: 'Task keeper',
  instructions:
    "You keep the user's task list with your tools: add_task, list_tasks, complete_task and delete_task " +
    '(the user approves each delete; if they reject one, say so). Tasks are known by their number. ' +
    'Answer in one or two short sentences.',
  // The tools example's demo script: the tool names are the same, whether the tools run in this
  // process or, as here, in the task server.
  model: models.forAgent(taskScript),
  mcpServers: [tasks],
  tools: [createDeleteTaskTool(tasks)],
});

// DEMO ONLY: the caller names themselves in the `x-user-id` header. A real app takes the user
// from its authentication middleware (passport, express-jwt, express-session...): req.user.id.
const getUserId = (req: Request) => req.header('x-user-id');
const getDb = () => database.db;

const tasksRouter = createAgentRouter(agent, '/tasks', getDb, {
  getUserId,
  // The run context: who is asking. The router has already answered 401 when getUserId returned
  // nothing, so the header is there.
  context: (req) => ({ userId: req.header('x-user-id')! }),
});
const app = express();
app.use(tasksRouter);
app.use(createChatRouter(getDb, { getUserId }));

serve(app, {
  startUpText: (url) => {
    const json = `-H 'content-type: application/json'`;
    const user = `-H 'x-user-id: alice'`;
    return `
express-agent-router: MCP example

  database     ${database.description}
  model        ${models.description}
  agent        /tasks (${agent.name})
  mcp server   ${tasks.name}, a child process (task-server.ts) with the tools ${taskTools.join(', ')}

Try it from another terminal, as user "alice" (one block at a time):

# 1. Create a chat and keep its id in $CHAT
CHAT=$(curl -s -X POST ${url}/chats ${user} ${json} -d '{"title":"Errands"}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).chat_id')

# 2. See the agent's MCP server and the tools it lists
curl -s -w '\\n' ${url}/tasks/info ${user}

# 3. Add a task, streamed: add_task runs in the task server, see tool.called and tool.output
curl -sN -X POST ${url}/tasks/stream ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"add buy milk"}'

# 4. Add another one
curl -s -w '\\n' -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"add call the plumber"}'

# 5. Complete the first one
curl -s -w '\\n' -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"complete 1"}'

# 6. Ask to delete the second one: it needs approval, so the run waits; keep its ids in $RUN and $CALL
WAIT=$(curl -s -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"delete 2"}')
echo "$WAIT"
RUN=$(echo "$WAIT" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).run_id')
CALL=$(echo "$WAIT" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).approvals[0].call_id')

# 7. Approve it: only now does the call reach the task server, and the run goes on to its answer
curl -s -w '\\n' -X POST ${url}/tasks/runs/$RUN/approvals ${user} ${json} \\
  -d '{"decisions":[{"call_id":"'$CALL'","approved":true}]}'

# 8. List the tasks
curl -s -w '\\n' -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"list"}'

# 9. Read the history: the server's answers are stored in the chat
curl -s -w '\\n' ${url}/chats/$CHAT ${user}

Listening on ${url} (Ctrl+C to stop)`;
  },
  onClose: async () => {
    // Runs still going may call the task server: let them finish (or cancel them) first, then
    // stop the server, then close the pool the routers wrote to.
    await tasksRouter.drain();
    await tasks.close();
    await database.close();
  },
});
