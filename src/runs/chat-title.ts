import type { AgentInputItem } from '@openai/agents';

/** A new chat's title: the first words of the input, at most 80 characters. */
export function titleFrom(input: string | AgentInputItem[]): string | null {
  let text: string | undefined;
  if (typeof input === 'string') text = input;
  else {
    const first = input.find((item) => 'role' in item && item.role === 'user') as { content?: unknown } | undefined;
    if (typeof first?.content === 'string') text = first.content;
    else if (Array.isArray(first?.content)) {
      text = first.content.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join(' ');
    }
  }
  // Whitespace collapsed; characters PostgreSQL text cannot hold removed.
  const words = text?.replace(/\u0000/g, '').toWellFormed().split(/\s+/).filter(Boolean) ?? [];
  if (words.length === 0) return null;
  let title = '';
  for (const word of words.slice(0, 8)) {
    if ((title + ' ' + word).trim().length > 80) break;
    title = (title + ' ' + word).trim();
  }
  if (!title) title = words[0]!.slice(0, 79);
  return title.length < words.join(' ').length ? `${title}…` : title;
}
