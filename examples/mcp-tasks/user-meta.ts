// How the app tells the task server whose tasks a call is about: in the MCP request's `_meta`,
// never in the tool's arguments. The model writes the arguments (a prompt injected into a chat
// could make it write any user id there); `_meta` is added by the app after the model has spoken,
// from the run context the router built for the signed-in user. The server and the app both
// import this file, so they agree on the key.

/** The `_meta` key that carries the user id (a prefixed name, as MCP asks of custom keys). */
export const USER_ID_META = 'express-agent-router.example/user-id';

/** The `_meta` of a tool call made for `userId`; none without a user, which the server refuses. */
export function userMeta(userId: string | undefined): Record<string, string> | undefined {
  return userId ? { [USER_ID_META]: userId } : undefined;
}
