/**
 * How `watch` shows a workflow: JSON lines, one plain line per event (stdout not a TTY), or a
 * live cli-progress bar with a row per step (a TTY). Closing lines are the step table and the
 * outcome.
 */
import cliProgress from 'cli-progress';
import type { WorkflowDetail } from '#core/wire';
import type { Output } from './context';
import { colorStatus, formatEta, formatEvent, renderOutcome, renderSteps } from './format';
import type { WatchEvent, WatchSink } from './watch';

/** Beyond this many steps the live view keeps the bar only: rows would not fit a terminal. */
export const MAX_LIVE_ROWS = 20;

export interface WatchView extends WatchSink {
  /** Stops any live rendering and prints the closing lines. */
  end(detail: WorkflowDetail | undefined): void;
}

/** The cli-progress format of the workflow bar. */
export const BAR_FORMAT = '{workflow} {bar} {percentage}% | {status} | ETA {eta}';
const ROW_FORMAT = '  {step} {status} {agent}';

export function createWatchView(output: Output): WatchView {
  if (output.json) {
    return {
      begin: () => {},
      event: (event) => output.document(event),
      notice: (message) => output.err(message),
      end: () => {},
    };
  }
  if (!output.isTTY) {
    return {
      begin: (detail, mode) =>
        output.out(
          `watching workflow ${detail.workflow_id}: ${detail.steps.length} steps, ${detail.status}, ${mode === 'stream' ? 'over the progress stream' : 'polling every second'}`,
        ),
      event: (event) => output.out(formatEvent(event, output.colors)),
      notice: (message) => output.err(message),
      end: (detail) => {
        if (!detail) return;
        output.out(renderSteps(detail, output.colors));
        output.out(renderOutcome(detail, output.colors));
      },
    };
  }
  return liveView(output);
}

function liveView(output: Output): WatchView {
  const colors = output.colors;
  const multibar = new cliProgress.MultiBar(
    {
      format: BAR_FORMAT,
      stream: output.stdout as NodeJS.WriteStream,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      barsize: 30,
      autopadding: true,
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  const rows = new Map<string, cliProgress.SingleBar>();
  let stepWidth = 0;
  let agentWidth = 0;
  let status = 'PENDING';
  let eta: string | null = null;
  const stepPayload = (step: string, stepStatus: string, agent: string) => ({
    step: step.padEnd(stepWidth),
    status: colorStatus(stepStatus, colors) + ' '.repeat(Math.max(0, 20 - stepStatus.length)),
    agent: agent.padEnd(agentWidth),
  });
  return {
    begin(detail) {
      status = detail.status;
      bar = multibar.create(100, detail.completion_percentage, {
        workflow: detail.workflow_id,
        status: colorStatus(status, colors),
        eta: '-',
      });
      if (detail.steps.length > MAX_LIVE_ROWS) return;
      stepWidth = Math.max(...detail.steps.map((step) => step.step_id.length));
      agentWidth = Math.max(...detail.steps.map((step) => step.agent_id.length));
      for (const step of detail.steps)
        rows.set(
          step.step_id,
          multibar.create(1, 0, stepPayload(step.step_id, step.status, step.agent_id), {
            format: ROW_FORMAT,
          }),
        );
    },
    event(event: WatchEvent) {
      if (!event.step_id) status = event.status;
      eta = event.eta_completion ?? eta;
      bar?.update(event.completion_percentage, {
        status: colorStatus(status, colors),
        eta: formatEta(eta, new Date()),
      });
      const row = event.step_id ? rows.get(event.step_id) : undefined;
      if (row && event.step_id) row.update(0, stepPayload(event.step_id, event.status, event.agent_id ?? ''));
      if (!row) multibar.log(`${formatEvent(event, colors)}\n`);
    },
    notice(message) {
      multibar.log(`${colors.yellow(message)}\n`);
    },
    end(detail) {
      multibar.stop();
      if (!detail) return;
      // The live rows already are the step table, in its final state.
      if (rows.size === 0) output.out(renderSteps(detail, colors));
      output.out(renderOutcome(detail, colors));
    },
  };
}
