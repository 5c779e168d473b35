/**
 * Whether a tool's output says the tool failed: the SDK's own texts for a tool that threw (its
 * default `errorFunction`) or timed out. A tool with its own `errorFunction` speaks for itself,
 * and its failures read as outputs.
 */
export function isToolFailure(output: string): boolean {
  return output.startsWith('An error occurred while running the tool.') || /^Tool '.*' timed out after \d+ms\.$/.test(output);
}
