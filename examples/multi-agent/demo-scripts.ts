// What the three agents say when they run on the offline demo model (no OPENAI_API_KEY).
//
// The replies are canned, but they are built from the conversation the SDK sent the model, which
// is the chat's whole stored history, whichever agent wrote it. So they show the shared memory
// at work: each reply counts the turns, quotes what you said first, names the agent that spoke
// last and what it said, and reuses the facts (your hero's name, people and class, the home town
// the world builder made up) wherever they were said. "Kill the goblin chief!" makes the campaign
// assistant call kill_npc, which waits for the player's approval. Across chats, the character
// creator remembers your hero with the `remember` tool, and the world builder finds that memory in
// its instructions (the router's `memories.recall` option puts it there), even in a new chat.
import { firstWords, type DemoConversation, type DemoScript, type DemoStep } from '../shared/demo-model.js';

export const CAMPAIGN_ASSISTANT = 'Campaign assistant';
export const CHARACTER_CREATOR = 'Character creator';
export const WORLD_BUILDER = 'World builder';
const SPEAKERS = [CAMPAIGN_ASSISTANT, CHARACTER_CREATOR, WORLD_BUILDER];

export const campaignScript: DemoScript = (chat) => {
  const hero = heroOf(chat);
  const who = hero.name ?? 'You';
  // "Kill the goblin chief!": kill_npc, which waits for the player's approval.
  const victim = victimIn(chat.latest);
  if (victim && chat.tools.includes('kill_npc') && chat.toolResults.length === 0) {
    return { type: 'tool', name: 'kill_npc', arguments: { name: victim } };
  }
  const death = chat.toolResults.find((result) => result.name === 'kill_npc');
  if (death) {
    // Approved, the tool said who died; rejected, the model got the rejection's message instead.
    const text = / is dead, /.test(death.output)
      ? `${death.output} The caves fall silent around ${hero.name ?? 'you'}. What do you do?`
      : `${who} ${hero.name ? 'lowers the blade' : 'lower your blade'}: ${victim ?? 'your foe'} lives, for now. What do you do?`;
    return say(CAMPAIGN_ASSISTANT, chat, text);
  }
  if (wantsDice(chat)) return { type: 'tool', name: 'roll_dice', arguments: { notation: diceIn(chat.latest) ?? '1d20' } };
  const roll = chat.toolResults.find((result) => result.name === 'roll_dice');
  if (roll) {
    const total = Number(/(\d+)$/.exec(roll.output)?.[1] ?? 0);
    const outcome =
      total >= 10
        ? `${who} ${hero.name ? 'moves' : 'move'} first: the goblins have not seen ${hero.name ? 'him' : 'you'} yet.`
        : `${who} ${hero.name ? 'hesitates' : 'hesitate'}, and the goblins strike first.`;
    return say(CAMPAIGN_ASSISTANT, chat, `The dice are cast. ${roll.output}. ${outcome} What do you do?`);
  }
  const town = townOf(chat);
  return say(
    CAMPAIGN_ASSISTANT,
    chat,
    `${hero.name ? `${hero.name} stands` : 'You stand'} at the mouth of the goblin caves${town ? `, a day's walk from ${town}` : ''}. ` +
      'Say "roll for initiative" when you are ready, and I will roll the dice.',
  );
};

export const characterScript: DemoScript = (chat) => {
  const hero = heroOf(chat);
  const described = heroIn(chat.latest);
  if (described.name && chat.tools.includes('remember') && chat.toolResults.length === 0) {
    const who = [described.people, described.calling].filter(Boolean).join(' ') || 'adventurer';
    return {
      type: 'tool',
      name: 'remember',
      arguments: { content: `The user's hero is a ${who} named ${described.name}.`, importance: 0.9 },
    };
  }
  if (wantsDice(chat)) return { type: 'tool', name: 'roll_dice', arguments: { notation: diceIn(chat.latest) ?? '4d6' } };
  const roll = chat.toolResults.find((result) => result.name === 'roll_dice');
  if (roll) {
    return say(CHARACTER_CREATOR, chat, `${roll.output}. ${hero.name ?? 'Your hero'} keeps that as a starting score.`);
  }
  if (!hero.name) {
    return say(
      CHARACTER_CREATOR,
      chat,
      'Tell me who your hero is, for instance "a dwarf fighter named Brom", and I will write the character sheet.',
    );
  }
  const scores = ['Strength', 'Dexterity', 'Constitution', 'Intelligence', 'Wisdom', 'Charisma'].map(
    (ability, index) => `${ability} ${8 + (hash(`${hero.name}:${ability}`) % 11)}${index === 5 ? '' : ','}`,
  );
  return say(
    CHARACTER_CREATOR,
    chat,
    `Character sheet for ${hero.name}, ${[hero.people, hero.calling].filter(Boolean).join(' ') || 'adventurer'}: ${scores.join(' ')}.`,
  );
};

export const worldScript: DemoScript = (chat) => {
  // What this chat says wins over what an earlier chat left in memory.
  const told = heroOf(chat);
  const memory = told.name ? undefined : memoriesOf(chat).find((text) => heroIn(text).name);
  const hero = memory ? heroIn(memory) : told;
  if (!hero.name) {
    return say(WORLD_BUILDER, chat, 'The map is still blank. Tell me who travels in this world and I will draw their home.');
  }
  const town = townOf(chat) ?? TOWNS[hash(hero.name) % TOWNS.length]!;
  const home = HOMES[hero.people ?? ''] ?? 'a crossroads town where every traveller leaves a story behind';
  const recalled = memory ? `I remember from an earlier chat: "${memory}" ` : '';
  return say(WORLD_BUILDER, chat, `${recalled}${hero.name} comes from ${town}, ${home}.`);
};

const TOWNS = ['Emberfall', 'Greywater', 'Highmoor', 'Stonereach', 'Willowmere'];
const HOMES: Record<string, string> = {
  dwarf: 'a mountain hold where the forges never go cold',
  elf: 'a city of bridges high in the old forest',
  human: 'a river port full of merchants and rumours',
  halfling: 'a village of round doors and long lunches',
  gnome: 'a burrow of clockwork and bad ideas',
  orc: 'a camp on the windy steppe, loyal to its chief',
};
const PEOPLES = Object.keys(HOMES);
const CALLINGS = ['fighter', 'wizard', 'rogue', 'cleric', 'ranger', 'bard', 'paladin', 'barbarian', 'druid', 'monk'];

/**
 * A reply: who is speaking and what it remembers of the chat, then, after a blank line, its own
 * part (which the next agent quotes).
 */
function say(self: string, chat: DemoConversation, text: string): DemoStep {
  const turn = chat.userMessages.length;
  const memory = [`${self} here, turn ${turn} of this chat.`];
  if (turn > 1) memory.push(`You told me earlier: "${firstWords(chat.userMessages[0]!, 14)}"`);
  const last = lastSpeaker(chat);
  if (last && last.speaker !== self) memory.push(`The ${last.speaker.toLowerCase()} answered last: "${firstWords(last.said, 12)}"`);
  return { type: 'text', text: `${memory.join(' ')}\n\n${text}` };
}

/** Who wrote the newest earlier reply (every demo reply opens with "<name> here"), and its own part. */
function lastSpeaker(chat: DemoConversation): { speaker: string; said: string } | undefined {
  const reply = chat.earlierReplies.at(-1);
  const speaker = SPEAKERS.find((name) => reply?.startsWith(`${name} here`));
  if (!reply || !speaker) return undefined;
  return { speaker, said: reply.split('\n\n').at(-1)! };
}

interface Hero {
  name?: string;
  people?: string;
  calling?: string;
}

/** The hero the user described, from every user message of the chat (the newest mention wins). */
function heroOf(chat: DemoConversation): Hero {
  const hero: Hero = {};
  for (const message of chat.userMessages) {
    const described = heroIn(message);
    hero.name = described.name ?? hero.name;
    hero.people = described.people ?? hero.people;
    hero.calling = described.calling ?? hero.calling;
  }
  return hero;
}

/** The hero one text describes ("a dwarf fighter named Brom"), as far as it does. */
function heroIn(text: string): Hero {
  const words = text.toLowerCase().split(/[^a-z]+/);
  return {
    name: /\b(?:named|called|name is)\s+([A-Z][\w'-]*)/.exec(text)?.[1],
    people: PEOPLES.find((people) => words.includes(people)),
    calling: CALLINGS.find((calling) => words.includes(calling)),
  };
}

/**
 * The memories the router added to the instructions: the lines "- <memory> (importance ...,
 * remembered ...)" below its heading, without their parenthesis.
 */
function memoriesOf(chat: DemoConversation): string[] {
  const [, section] = chat.instructions.split(/^Memories of this user.*$/m);
  return (section ?? '')
    .split('\n')
    .flatMap((line) => /^- (.*) \(importance [^)]*\)$/.exec(line)?.[1] ?? []);
}

/** The hero's home town, if the world builder already named it in this chat. */
function townOf(chat: DemoConversation): string | undefined {
  for (const reply of [...chat.earlierReplies].reverse()) {
    const town = / comes from ([A-Z][\w'-]*)/.exec(reply)?.[1];
    if (town) return town;
  }
  return undefined;
}

/** Roll when asked to, and only once per turn: after the tool answered, reply with text. */
function wantsDice(chat: DemoConversation): boolean {
  return (
    chat.tools.includes('roll_dice') &&
    chat.toolResults.length === 0 &&
    /\b(roll|rolls|dice|initiative)\b|\b\d*d\d+\b/i.test(chat.latest)
  );
}

/** Who the player wants dead: "Kill the goblin chief!" names "the goblin chief". */
function victimIn(text: string): string | undefined {
  const victim = /\b(?:kill|slay|murder)\s+(.+?)[\s.!?]*$/i.exec(text)?.[1];
  return victim ? firstWords(victim, 8) : undefined;
}

function diceIn(text: string): string | undefined {
  const match = /\b(\d{0,2})d(\d{1,3})\b/i.exec(text);
  return match ? `${match[1] || 1}d${match[2]}` : undefined;
}

/** A small stable string hash, so the same hero always gets the same sheet and home town. */
function hash(text: string): number {
  let value = 0;
  for (const char of text) value = (value * 31 + char.codePointAt(0)!) >>> 0;
  return value;
}
