import type { AgentMetricsReport } from './agent-metrics.js';

/** The Content-Type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Family {
  name: string;
  type: 'gauge' | 'summary';
  help: string;
  samples: { suffix?: string; labels: Record<string, string>; value: number }[];
}

/**
 * A metrics report in the Prometheus text exposition format (version 0.0.4). Every figure is
 * about the report's window (runs started in it), so they are gauges, not counters: a scrape
 * with a window of its own sees what happened in it, whichever instance answers. Latency is a
 * summary (quantiles 0.5 and 0.95, with `_sum` and `_count`), in seconds as Prometheus wants.
 */
export function prometheusText(report: AgentMetricsReport): string {
  const families: Family[] = [
    gauge('agent_router_window_seconds', 'Length of the window the figures cover: runs started in it.', [
      { labels: {}, value: (report.until.getTime() - report.since.getTime()) / 1000 },
    ]),
  ];
  const agents = report.agents;
  families.push(
    gauge(
      'agent_router_runs',
      'Runs started in the window, by the agent they started on and what became of them.',
      agents.flatMap((agent) =>
        (
          [
            ['completed', agent.completed],
            ['failed', agent.failed],
            ['cancelled', agent.cancelled],
            ['in_progress', agent.inProgress],
          ] as const
        ).map(([status, value]) => ({ labels: { agent: agent.agentName, status }, value })),
      ),
    ),
    gauge(
      'agent_router_run_success_ratio',
      'Completed runs over completed and failed ones (cancelled runs count as neither).',
      agents.filter((agent) => agent.successRate !== null).map((agent) => ({ labels: { agent: agent.agentName }, value: agent.successRate! })),
    ),
    gauge(
      'agent_router_run_errors',
      'Failed and cancelled runs, by error code.',
      agents.flatMap((agent) =>
        Object.entries(agent.errors).map(([code, value]) => ({ labels: { agent: agent.agentName, code }, value })),
      ),
    ),
    {
      name: 'agent_router_run_duration_seconds',
      type: 'summary',
      help: 'How long finished runs took, without time spent waiting for approvals.',
      samples: agents.flatMap((agent) => {
        const labels = { agent: agent.agentName };
        const { p50, p95, count, sum } = agent.latencyMs;
        return [
          { labels: { ...labels, quantile: '0.5' }, value: p50 === null ? Number.NaN : p50 / 1000 },
          { labels: { ...labels, quantile: '0.95' }, value: p95 === null ? Number.NaN : p95 / 1000 },
          { suffix: '_sum', labels, value: sum / 1000 },
          { suffix: '_count', labels, value: count },
        ];
      }),
    },
    gauge(
      'agent_router_model_requests',
      'Model calls made by the runs.',
      agents.map((agent) => ({ labels: { agent: agent.agentName }, value: agent.tokens.requests })),
    ),
    gauge(
      'agent_router_tokens',
      'Tokens the runs used, as the model reported them.',
      agents.flatMap((agent) =>
        (
          [
            ['input', agent.tokens.input],
            ['output', agent.tokens.output],
            ['total', agent.tokens.total],
          ] as const
        ).map(([kind, value]) => ({ labels: { agent: agent.agentName, kind }, value })),
      ),
    ),
    gauge(
      'agent_router_tool_calls',
      'Tool calls the runs made, by tool.',
      agents.flatMap((agent) =>
        Object.entries(agent.tools.byTool).map(([tool, counts]) => ({ labels: { agent: agent.agentName, tool }, value: counts.calls })),
      ),
    ),
    gauge(
      'agent_router_tool_failures',
      'Tool calls that threw or timed out, by tool.',
      agents.flatMap((agent) =>
        Object.entries(agent.tools.byTool).map(([tool, counts]) => ({ labels: { agent: agent.agentName, tool }, value: counts.failures })),
      ),
    ),
  );
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${sample.suffix ?? ''}${labelSet(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function gauge(name: string, help: string, samples: Family['samples']): Family {
  return { name, type: 'gauge', help, samples };
}

function labelSet(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** Label values escape backslash, double quote and line feed; HELP texts backslash and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
