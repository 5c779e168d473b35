// A function tool the campaign assistant and the character creator share: it rolls dice.
import { randomInt } from 'node:crypto';
import { tool } from '@openai/agents';
import { z } from 'zod';

const NOTATION = /^(\d{1,2})?d(\d{1,3})$/i;

export const rollDice = tool({
  name: 'roll_dice',
  description: 'Rolls dice written in tabletop notation, such as 1d20 (one twenty-sided die) or 4d6.',
  parameters: z.object({
    notation: z.string().describe('NdS: N dice (1 to 20) of S sides (2 to 100), e.g. "1d20" or "4d6".'),
  }),
  execute: ({ notation }) => {
    const match = NOTATION.exec(notation.trim());
    const count = Number(match?.[1] ?? 1);
    const sides = Number(match?.[2]);
    // Said to the model as the tool's output, so it can correct itself and try again.
    if (!match || count < 1 || count > 20 || sides < 2 || sides > 100) {
      return `Cannot roll "${notation}": use NdS with N from 1 to 20 and S from 2 to 100, e.g. 1d20.`;
    }
    const rolls = Array.from({ length: count }, () => randomInt(1, sides + 1));
    const total = rolls.reduce((sum, roll) => sum + roll, 0);
    return count === 1 ? `Rolled ${count}d${sides}: ${total}` : `Rolled ${count}d${sides}: ${rolls.join(' + ')} = ${total}`;
  },
});
