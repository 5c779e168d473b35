// The events of a streamed turn in which the agent called one tool, as the examples' tests read them.
import { expect } from 'vitest';
import type { SseEvent } from '../helpers/agents.js';

/** The one tool call of a streamed turn, its output and the completion; they come in that order. */
export function toolEvents(events: SseEvent[]) {
  const names = events.map((event) => event.event);
  expect(names[0]).toBe('run.started');
  expect(names.at(-1)).toBe('run.completed');
  expect(names.filter((name) => name === 'tool.called')).toHaveLength(1);
  expect(names.indexOf('tool.called')).toBeLessThan(names.indexOf('tool.output'));
  expect(names.indexOf('tool.output')).toBeLessThan(names.indexOf('text.delta'));
  return {
    called: events[names.indexOf('tool.called')]!.data,
    output: events[names.indexOf('tool.output')]!.data,
    completed: events.at(-1)!.data,
  };
}
