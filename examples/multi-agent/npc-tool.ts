// A function tool of the campaign assistant that needs the player's approval: killing a
// non-player character cannot be undone, so the run waits for the player to say yes or no (the
// chat page shows Approve / Reject buttons; POST /campaign/runs/:run_id/approvals decides).
import { tool } from '@openai/agents';
import { z } from 'zod';

export const killNpc = tool({
  name: 'kill_npc',
  description:
    'Kills a non-player character for good: they leave the story and cannot come back. The player approves it first.',
  parameters: z.object({
    name: z.string().min(1).max(100).describe('Who dies, as the story calls them, e.g. "the goblin chief".'),
  }),
  needsApproval: true,
  // Rejected, this never runs: the model is told the player said no, and the character lives.
  execute: ({ name }) => `${name.charAt(0).toUpperCase()}${name.slice(1)} is dead, gone from the story for good.`,
});
