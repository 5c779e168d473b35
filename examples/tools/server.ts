// The tools example: an agent whose function tools keep a task list in the database, behind the
// router. Its `/stream` endpoint shows each tool call as `tool.called` and `tool.output` events,
// and deleting a task waits for the user's approval (POST /tasks/runs/:run_id/approvals).
//
//   npm run example:tools      (DATABASE_URL and OPENAI_API_KEY work as in the multi-agent example)
import express, { type Request } from 'express';
import { Agent } from '@openai/agents';
import { createAgentRouter, createChatRouter, migrate } from 'express-agent-router';
import { openDatabase } from '../shared/database.js';
import { chooseModel } from '../shared/model-choice.js';
import { serve } from '../shared/serve.js';
import { createTaskTable } from './task-list.js';
import { taskScript } from './task-script.js';
import { createTaskTools, type TaskContext } from './task-tools.js';

const database = openDatabase();
await migrate(database.db);
await createTaskTable(database.db);
const models = chooseModel();

const agent = new Agent<TaskContext>({
  name: 'Task keeper',
  instructions:
    "You keep the user's task list with your tools: add_task, list_tasks, complete_task and delete_task " +
    '(the user approves each delete; if they reject one, say so). Tasks are known by their number. ' +
    'Answer in one or two short sentences.',
  model: models.forAgent(taskScript),
  tools: createTaskTools(database.db),
});

// DEMO ONLY: the caller names themselves in the `x-user-id` header. A real app takes the user
// from its authentication middleware (passport, express-jwt, express-session...): req.user.id.
const getUserId = (req: Request) => req.header('x-user-id');
const getDb = () => database.db;

const app = express();
app.use(
  createAgentRouter(agent, '/tasks', getDb, {
    getUserId,
    // The run context the tools receive: whose task list to work on. The router has already
    // answered 401 when getUserId returned nothing, so the header is there.
    context: (req) => ({ userId: req.header('x-user-id')! }),
  }),
);
app.use(createChatRouter(getDb, { getUserId }));

serve(app, {
  startUpText: (url) => {
    const json = `-H 'content-type: application/json'`;
    const user = `-H 'x-user-id: alice'`;
    return `
express-agent-router: tools example

  database   ${database.description}
  model      ${models.description}
  agent      /tasks (${agent.name}), with the tools add_task, list_tasks, complete_task and delete_task (needs approval)

Try it from another terminal, as user "alice" (one block at a time):

# 1. Create a chat and keep its id in $CHAT
CHAT=$(curl -s -X POST ${url}/chats ${user} ${json} -d '{"title":"Errands"}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).chat_id')

# 2. Add a task, streamed: see the tool.called and tool.output events
curl -sN -X POST ${url}/tasks/stream ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"add buy milk"}'

# 3. Add another one
curl -s -w '\\n' -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"add call the plumber"}'

# 4. Complete the first one
curl -s -w '\\n' -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"complete 1"}'

# 5. List the tasks, streamed
curl -sN -X POST ${url}/tasks/stream ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"list"}'

# 6. Ask to delete task 2: the tool needs approval, so the run waits; keep its ids in $RUN and $CALL
WAIT=$(curl -s -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"delete task 2"}')
echo "$WAIT"
RUN=$(echo "$WAIT" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).run_id')
CALL=$(echo "$WAIT" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).approvals[0].call_id')

# 7. The chat shows what waits (pending_approval), for a client that reloads
curl -s ${url}/chats/$CHAT ${user} \\
  | node -pe 'JSON.stringify(JSON.parse(require("fs").readFileSync(0, "utf8")).pending_approval)'

# 8. Approve it: only now is task 2 deleted, and the run goes on to its answer
curl -s -w '\\n' -X POST ${url}/tasks/runs/$RUN/approvals ${user} ${json} \\
  -d '{"decisions":[{"call_id":"'$CALL'","approved":true}]}'

# 9. Ask to delete task 1: it waits again, with a new run and call in $RUN and $CALL
WAIT=$(curl -s -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"delete task 1"}')
echo "$WAIT"
RUN=$(echo "$WAIT" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).run_id')
CALL=$(echo "$WAIT" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).approvals[0].call_id')

# 10. Reject it, with a message for the model: the tool does not run, nothing is deleted
curl -s -w '\\n' -X POST ${url}/tasks/runs/$RUN/approvals ${user} ${json} \\
  -d '{"decisions":[{"call_id":"'$CALL'","approved":false,"message":"The user said no: keep task 1."}]}'

# 11. List the tasks: task 1 is still there, task 2 is gone
curl -s -w '\\n' -X POST ${url}/tasks/run ${user} ${json} \\
  -d '{"session_id":"'$CHAT'","input":"list"}'

# 12. Read the history: the tool calls and their results are part of it
curl -s -w '\\n' ${url}/chats/$CHAT ${user}

Listening on ${url} (Ctrl+C to stop)`;
  },
  onClose: () => database.close(),
});
