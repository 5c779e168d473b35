// Which model the example agents use: OpenAI's when OPENAI_API_KEY is set, else the offline demo.
import { setTracingDisabled } from '@openai/agents';
import type { Model } from '@openai/agents';
import { DemoModel, type DemoScript } from './demo-model.js';

export interface ModelChoice {
  /** For the start-up banner. */
  description: string;
  /** The `model` to give an agent: OpenAI's model name, or a demo model running `script`. */
  forAgent(script: DemoScript): string | Model;
}

export function chooseModel(): ModelChoice {
  if (process.env.OPENAI_API_KEY) {
    const name = process.env.OPENAI_MODEL || 'gpt-4o-mini';
    return {
      description: `OpenAI ${name} (OPENAI_API_KEY is set; OPENAI_MODEL picks another model)`,
      // The SDK's default provider reads OPENAI_API_KEY itself.
      forAgent: () => name,
    };
  }
  // The SDK would otherwise try to send traces to OpenAI, which needs the key: offline means
  // no network at all.
  setTracingDisabled(true);
  return {
    description: 'offline demo model (scripted replies, no network; set OPENAI_API_KEY to use OpenAI)',
    // DEMO_WORD_DELAY_MS slows the streamed words down (the chat page's tests reload mid-answer).
    forAgent: (script) => new DemoModel(script, { wordDelayMs: Number(process.env.DEMO_WORD_DELAY_MS ?? 25) }),
  };
}
