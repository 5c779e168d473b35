// The three agents of the example. They know nothing of each other: what makes them a team is
// that they are mounted on the same database, so a chat started with one continues with another.
import { Agent } from '@openai/agents';
import { rememberTool, type AgentRouterOptions } from 'express-agent-router';
import type { ModelChoice } from '../shared/model-choice.js';
import {
  CAMPAIGN_ASSISTANT,
  CHARACTER_CREATOR,
  WORLD_BUILDER,
  campaignScript,
  characterScript,
  worldScript,
} from './demo-scripts.js';
import { rollDice } from './dice-tool.js';
import { killNpc } from './npc-tool.js';

export interface MountedAgent {
  agent: Agent;
  /** Where its endpoints are mounted: `{prefix}/run`, `{prefix}/stream`, `{prefix}/info`. */
  prefix: string;
  /** One line for the chat page's agent picker. */
  description: string;
  /** What its agent router is given besides getUserId. */
  routerOptions?: AgentRouterOptions;
}

const SHARED =
  'You are one of three assistants for a tabletop role-playing game: a campaign assistant, a character ' +
  'creator and a world builder. They all share this conversation, so build on what the others said. ' +
  'Keep answers under 80 words.';

export function createAgents(models: ModelChoice): MountedAgent[] {
  return [
    {
      prefix: '/campaign',
      description: 'runs the scenes, rolls the dice, asks before killing anyone',
      agent: new Agent({
        name: CAMPAIGN_ASSISTANT,
        instructions:
          `${SHARED} You run the adventure: describe scenes and consequences, and call roll_dice whenever the player rolls. ` +
          'When a non-player character dies, call kill_npc; the player approves it first, and if they refuse, the character lives.',
        model: models.forAgent(campaignScript),
        tools: [rollDice, killNpc],
      }),
    },
    {
      prefix: '/characters',
      description: 'writes character sheets',
      agent: new Agent({
        name: CHARACTER_CREATOR,
        instructions:
          `${SHARED} You create player characters: name, people, class and ability scores. Use roll_dice to roll scores when asked. ` +
          'When the user describes their hero, remember the hero (name, people, class) with the remember tool, so that later chats know them.',
        model: models.forAgent(characterScript),
        tools: [rollDice, rememberTool()],
      }),
    },
    {
      prefix: '/world',
      description: 'invents places and lore',
      // Before each run, the user's memories that match the new message join its instructions.
      routerOptions: { memories: { recall: { topK: 3 } } },
      agent: new Agent({
        name: WORLD_BUILDER,
        instructions: `${SHARED} You invent the world: towns, regions, history and the heroes' homelands.`,
        model: models.forAgent(worldScript),
      }),
    },
  ];
}
