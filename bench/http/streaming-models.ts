/**
 * Offline models for the durability and scale benchmarks, built on the SDK's ScriptedModel: a
 * fresh one per model call (a ScriptedModel consumes one scripted step per call).
 */
import type { Model } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelStream } from '@openai/agents/testing';

/** Wall-clock milliseconds, comparable between processes on one machine. */
export const wallClock = () => performance.timeOrigin + performance.now();

export interface DeltaScript {
  /** How many text deltas the model streams. */
  deltas: number;
  /** Milliseconds before each delta (0: all at once, as an instant model). */
  paceMs?: number;
  /** Each delta carries the time it was produced, `t=<ms> ` (to time its trip to a client). */
  stamped?: boolean;
}

const usage = { requests: 1, inputTokens: 0, outputTokens: 0, totalTokens: 0, inputTokensDetails: [], outputTokensDetails: [] };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A model that streams `deltas` text deltas, then answers with their text. */
export function deltaModel({ deltas, paceMs = 0, stamped = false }: DeltaScript): Model {
  const word = 'word ';
  return new ScriptedModel([
    modelStream(
      (async function* () {
        yield { type: 'response_started' as const };
        for (let i = 0; i < deltas; i++) {
          if (paceMs > 0) await sleep(paceMs);
          yield { type: 'output_text_delta' as const, delta: stamped ? `t=${wallClock()} ` : word };
        }
        yield { type: 'response_done' as const, response: { id: 'r', usage, output: [assistantMessage(word.repeat(deltas))] } };
      })(),
    ),
  ]);
}

/**
 * A model that streams one delta and then thinks for `holdMs` (a run that stays open: what the
 * open-streams figure follows). The benchmark ends its server before that.
 */
export function holdingModel(holdMs: number): Model {
  return new ScriptedModel([
    modelStream(
      (async function* () {
        yield { type: 'response_started' as const };
        yield { type: 'output_text_delta' as const, delta: 'thinking' };
        await sleep(holdMs);
        yield { type: 'response_done' as const, response: { id: 'r', usage, output: [assistantMessage('done')] } };
      })(),
    ),
  ]);
}
