import { z } from 'zod';

/**
 * A chat's session state and its owner's, as `GET /chats/:id/state` answers them (`ChatStateBody`,
 * chat-state-routes.ts), the `state.updated` event carries them and the UI message stream's
 * `data-state` chunk: a zod schema for the OpenAPI document, held equal to the type by a type test.
 */
export const chatStateBodySchema = z
  .strictObject({
    state: z.record(z.string(), z.unknown()).describe("The chat's state."),
    user_state: z
      .record(z.string(), z.unknown())
      .describe("The user's state, shared by all their chats (a run sees these keys as `user:<key>`)."),
  })
  .describe("A chat's session state and its owner's.");
