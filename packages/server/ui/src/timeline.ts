import type { Run, StoredEvent } from './api';
import { type Child, h, prettyJson, replaceChildren } from './dom';
import { between, formatCost, formatCount, formatDuration, shortId } from './format';

/** What the timeline asks the page to do. */
export interface TimelineActions {
  cancelRun(runId: string): Promise<void>;
  approve(runId: string, toolCallId: string): Promise<void>;
  deny(runId: string, toolCallId: string, reason: string): Promise<void>;
  /** The run's stored record changed (it ended, or a new one appeared): fetch it again. */
  refreshRun(runId: string): void;
}

type RunStatus = Run['status'];
const ENDED: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'timeout']);
const TERMINAL_TYPES: Record<string, RunStatus> = {
  run_completed: 'completed',
  run_failed: 'failed',
  run_cancelled: 'cancelled',
  run_timeout: 'timeout',
};

function data(event: StoredEvent): Record<string, unknown> {
  return event.data as Record<string, unknown>;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function time(event: StoredEvent): HTMLElement {
  const date = new Date(event.timestamp);
  return h(
    'time',
    { className: 'event-time', datetime: event.timestamp, title: `#${event.sequence} · ${event.timestamp}` },
    Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(11, 19),
  );
}

/** One row of the timeline. */
function row(event: StoredEvent, className: string, ...children: Child[]): HTMLLIElement {
  return h(
    'li',
    { className: `event ${className}`, 'data-type': event.type, 'data-sequence': event.sequence },
    time(event),
    h('div', { className: 'event-body' }, ...children),
  );
}

function label(textContent: string, className = 'label'): HTMLElement {
  return h('span', { className }, textContent);
}

/** A tool call: its input, the approval it waited for, and its output. */
class ToolView {
  readonly element: HTMLLIElement;
  private readonly status: HTMLElement;
  private readonly input: HTMLPreElement;
  private readonly approval: HTMLElement;
  private readonly output: HTMLElement;
  pendingApproval = false;

  constructor(
    readonly runId: string,
    readonly toolCallId: string,
    first: StoredEvent,
    private readonly actions: TimelineActions,
  ) {
    const name = text(data(first).toolName) ?? 'tool';
    this.status = h('span', { className: 'badge status-running' }, 'running');
    this.input = h('pre', { className: 'json tool-input' });
    this.approval = h('div', { className: 'approval', hidden: true });
    this.output = h('div', { className: 'tool-output', hidden: true });
    this.element = h(
      'li',
      { className: 'event tool', 'data-tool-call-id': toolCallId, 'data-sequence': first.sequence },
      time(first),
      h(
        'div',
        { className: 'event-body' },
        h(
          'div',
          { className: 'tool-head' },
          label('tool'),
          h('strong', { className: 'tool-name' }, name),
          this.status,
          h('code', { className: 'muted', title: toolCallId }, shortId(toolCallId)),
        ),
        h('details', { className: 'tool-io', open: true }, h('summary', null, 'input'), this.input),
        this.approval,
        this.output,
      ),
    );
    this.setInput(data(first).toolInput);
    this.element.dataset.status = 'running';
  }

  private setInput(value: unknown): void {
    if (value !== undefined) this.input.textContent = prettyJson(value);
  }

  private setStatus(status: string): void {
    this.status.className = `badge status-${status}`;
    this.status.textContent = status.replace('_', ' ');
    this.element.dataset.status = status;
  }

  apply(event: StoredEvent, runEnded: boolean): void {
    const fields = data(event);
    switch (event.type) {
      case 'tool_call_started':
        this.setInput(fields.toolInput);
        break;
      case 'tool_approval_requested':
        this.setInput(fields.toolInput);
        this.pendingApproval = true;
        this.setStatus('awaiting_approval');
        this.showApprovalRequest(text(fields.reason), runEnded);
        break;
      case 'tool_approval_granted':
        this.pendingApproval = false;
        this.setStatus('approved');
        replaceChildren(
          this.approval,
          label('approved', 'badge status-completed'),
          text(fields.approvedBy) ? ` by ${fields.approvedBy}` : '',
          fields.input === undefined ? '' : ' (input changed)',
        );
        this.approval.className = 'approval answered';
        break;
      case 'tool_approval_denied':
        this.pendingApproval = false;
        this.setStatus('denied');
        replaceChildren(
          this.approval,
          label('denied', 'badge status-failed'),
          text(fields.deniedBy) ? ` by ${fields.deniedBy}` : '',
          text(fields.reason) ? `: ${fields.reason}` : '',
        );
        this.approval.className = 'approval answered denied';
        break;
      case 'tool_call_completed':
        this.setInput(fields.toolInput);
        this.setStatus('completed');
        this.showOutput(fields.toolOutput, undefined);
        break;
      case 'tool_call_failed':
        // A denied call "fails" without running: it stays shown as denied, not as an error.
        if (this.element.dataset.status === 'denied') {
          this.showOutput(fields.toolOutput, undefined);
          break;
        }
        this.setStatus('failed');
        this.element.classList.add('error');
        this.showOutput(fields.toolOutput, text(fields.errorMessage));
        break;
      default:
        break;
    }
  }

  private showApprovalRequest(reason: string | undefined, runEnded: boolean): void {
    this.approval.hidden = false;
    this.approval.className = 'approval pending';
    const reasonInput = h('input', {
      type: 'text',
      className: 'deny-reason',
      placeholder: 'reason (optional)',
      'aria-label': 'Reason for denying',
    });
    const buttons: HTMLButtonElement[] = [];
    const act = (work: () => Promise<void>) => async (event: Event) => {
      event.preventDefault();
      for (const button of buttons) button.disabled = true;
      try {
        await work();
      } catch (error) {
        for (const button of buttons) button.disabled = false;
        this.approval.append(h('div', { className: 'inline-error' }, String((error as Error).message)));
      }
    };
    const approve = h(
      'button',
      {
        type: 'button',
        className: 'primary',
        'data-action': 'approve',
        'data-tool-call-id': this.toolCallId,
        onclick: act(() => this.actions.approve(this.runId, this.toolCallId)),
      },
      'Approve',
    );
    const deny = h(
      'button',
      {
        type: 'button',
        className: 'danger',
        'data-action': 'deny',
        'data-tool-call-id': this.toolCallId,
        onclick: act(() => this.actions.deny(this.runId, this.toolCallId, reasonInput.value.trim())),
      },
      'Deny',
    );
    buttons.push(approve, deny);
    replaceChildren(
      this.approval,
      h('strong', null, 'Waiting for approval'),
      reason ? h('span', { className: 'muted' }, ` — ${reason}`) : '',
      h('div', { className: 'approval-actions' }, approve, deny, reasonInput),
    );
    if (runEnded) this.expire();
  }

  /** The run ended: a call still waiting for approval, or never finished, will not run any more. */
  expire(): void {
    if (this.element.dataset.status === 'running' || this.element.dataset.status === undefined) {
      this.setStatus('not_run');
    }
    if (!this.pendingApproval) return;
    this.pendingApproval = false;
    this.setStatus('unanswered');
    replaceChildren(this.approval, h('span', { className: 'muted' }, 'Not answered before the run ended'));
    this.approval.className = 'approval answered';
  }

  private showOutput(value: unknown, errorMessage: string | undefined): void {
    if (value === undefined && errorMessage === undefined) return;
    this.output.hidden = false;
    replaceChildren(
      this.output,
      errorMessage ? h('div', { className: 'error-text' }, errorMessage) : '',
      value === undefined
        ? ''
        : h(
            'details',
            { className: 'tool-io', open: true },
            h('summary', null, 'output'),
            h('pre', { className: 'json' }, prettyJson(value)),
          ),
    );
  }
}

/** One run: its header (status, provider, tokens, cost, cancel) and its events. */
class RunView {
  readonly element: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly statusBadge: HTMLElement;
  private readonly facts: HTMLElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly toggle: HTMLButtonElement;
  private readonly errorLine: HTMLElement;
  private readonly tools = new Map<string, ToolView>();
  /** The streamed block deltas are merged into while they keep coming. */
  private stream: { kind: string; node: Text; item: HTMLElement } | undefined;
  private lastStreamedText = '';
  private run: Partial<Run> = {};
  private liveTokens: number | undefined;
  private liveModel: string | undefined;
  private liveProvider: string | undefined;
  status: RunStatus = 'pending';
  sawEvents = false;

  constructor(
    readonly runId: string,
    private readonly actions: TimelineActions,
  ) {
    this.statusBadge = h('span', { className: 'badge run-status' });
    this.facts = h('span', { className: 'run-facts' });
    this.errorLine = h('div', { className: 'run-error', hidden: true });
    this.cancelButton = h(
      'button',
      {
        type: 'button',
        className: 'danger small',
        'data-action': 'cancel',
        'data-run-id': runId,
        onclick: async () => {
          this.cancelButton.disabled = true;
          this.cancelButton.textContent = 'Cancelling…';
          try {
            await this.actions.cancelRun(runId);
          } catch (error) {
            this.cancelButton.disabled = false;
            this.cancelButton.textContent = 'Cancel run';
            this.errorLine.hidden = false;
            this.errorLine.textContent = `Cancel failed: ${(error as Error).message}`;
          }
        },
      },
      'Cancel run',
    );
    this.list = h('ol', { className: 'events' });
    this.toggle = h(
      'button',
      {
        type: 'button',
        className: 'toggle',
        'aria-expanded': 'true',
        title: 'Show or hide the events',
        onclick: () => this.setExpanded(this.list.hidden),
      },
      '▾',
    );
    this.element = h(
      'section',
      { className: 'run', 'data-run-id': runId },
      h(
        'header',
        { className: 'run-head' },
        this.toggle,
        this.statusBadge,
        h('code', { className: 'run-id', title: runId }, shortId(runId)),
        this.facts,
        h('span', { className: 'spacer' }),
        this.cancelButton,
      ),
      this.errorLine,
      this.list,
    );
    this.render();
  }

  setExpanded(expanded: boolean): void {
    this.list.hidden = !expanded;
    this.toggle.setAttribute('aria-expanded', String(expanded));
    this.toggle.textContent = expanded ? '▾' : '▸';
  }

  get ended(): boolean {
    return ENDED.has(this.status);
  }

  /** The stored record of the run (from the API). */
  setRun(run: Run): void {
    this.run = run;
    // The log may be ahead of the record (a terminal event, or events of a run still `pending` in the
    // record read a moment earlier): keep what the log says then.
    const stale = (this.ended && !ENDED.has(run.status)) || (run.status === 'pending' && this.sawEvents);
    if (!stale) this.status = run.status;
    if (run.error && ENDED.has(run.status) && run.status !== 'cancelled') {
      this.errorLine.hidden = false;
      this.errorLine.textContent = `${run.error.code}: ${run.error.message}`;
    }
    if (!this.sawEvents && run.input !== undefined) this.showInput(run.input);
    this.render();
  }

  private showInput(input: unknown): void {
    if (this.list.querySelector('.input')) return;
    const content =
      typeof input === 'string'
        ? input
        : typeof (input as { prompt?: unknown })?.prompt === 'string'
          ? (input as { prompt: string }).prompt
          : prettyJson(input);
    this.list.prepend(
      h(
        'li',
        { className: 'event message user input' },
        h('span', { className: 'event-time' }),
        h(
          'div',
          { className: 'event-body' },
          label('input'),
          h('div', { className: 'message-text' }, content),
        ),
      ),
    );
  }

  private render(): void {
    const status = this.status;
    this.element.dataset.status = status;
    this.statusBadge.className = `badge run-status status-${status}`;
    this.statusBadge.textContent = status;
    // While a run executes, its record names the adapter (a router); its events name the provider.
    const provider = this.ended
      ? (this.run.provider ?? this.liveProvider)
      : (this.liveProvider ?? this.run.provider);
    const model =
      (typeof this.run.providerMetadata?.model === 'string' ? this.run.providerMetadata.model : undefined) ??
      this.liveModel;
    const tokens = Math.max(this.run.tokenUsage?.totalTokens ?? 0, this.liveTokens ?? 0);
    const duration = between(this.run.startedAt, this.ended ? this.run.endedAt : undefined);
    replaceChildren(
      this.facts,
      provider ? h('span', { title: 'provider' }, provider) : '',
      model ? h('span', { className: 'muted', title: 'model' }, model) : '',
      h('span', { title: 'total tokens' }, `${formatCount(tokens)} tok`),
      this.run.costUsd !== undefined
        ? h('span', { title: 'cost' }, formatCost(this.run.costUsd))
        : tokens > 0 && this.ended
          ? h('span', { className: 'muted', title: 'no price known for this model' }, 'unpriced')
          : '',
      duration !== undefined && this.run.startedAt
        ? h('span', { className: 'muted' }, formatDuration(duration))
        : '',
    );
    this.cancelButton.hidden = this.ended;
    this.element.classList.toggle('has-error', status === 'failed' || status === 'timeout');
  }

  private add(item: HTMLElement): void {
    this.stream = undefined;
    this.list.append(item);
  }

  apply(event: StoredEvent): void {
    this.sawEvents = true;
    const fields = data(event);
    const terminal = TERMINAL_TYPES[event.type];
    if (terminal) {
      this.status = terminal;
      for (const tool of this.tools.values()) tool.expire();
      this.actions.refreshRun(this.runId);
    } else if (!this.ended && this.status === 'pending') {
      this.status = 'running';
    }
    switch (event.type) {
      case 'run_started': {
        this.liveModel = text(fields.model) ?? this.liveModel;
        this.liveProvider = event.provider ?? this.liveProvider;
        const warnings = Array.isArray(fields.warnings) ? (fields.warnings as unknown[]).map(String) : [];
        this.add(
          row(
            event,
            'lifecycle',
            label('started'),
            event.provider ? ` on ${event.provider}` : '',
            text(fields.model) ? h('span', { className: 'muted' }, ` · ${fields.model}`) : '',
            warnings.length > 0
              ? h('div', { className: 'warning-text' }, `Warnings: ${warnings.join('; ')}`)
              : '',
          ),
        );
        break;
      }
      case 'message_sent': {
        const role = text(fields.role) ?? 'user';
        this.list.querySelector('.input')?.remove();
        this.add(
          row(
            event,
            `message ${role}`,
            label(role),
            h('div', { className: 'message-text' }, String(fields.content ?? '')),
          ),
        );
        break;
      }
      case 'message_streamed': {
        const kind = text(fields.kind) ?? 'text';
        const delta = String(fields.delta ?? '');
        if (this.stream && this.stream.kind === kind) {
          this.stream.node.appendData(delta);
        } else {
          const node = document.createTextNode(delta);
          const item = row(
            event,
            `message assistant stream kind-${kind}`,
            label(kind === 'text' ? 'assistant' : kind),
            h('div', { className: 'message-text stream-text', 'data-kind': kind }, node),
          );
          this.add(item);
          this.stream = { kind, node, item };
        }
        if (kind === 'text') this.lastStreamedText = this.stream?.node.data ?? '';
        break;
      }
      case 'message_received': {
        const content = String(fields.content ?? '');
        // The full answer after its streamed deltas: the merged block already shows it.
        if (content.trim() !== '' && content.trim() === this.lastStreamedText.trim()) {
          this.stream = undefined;
          break;
        }
        if (content === '') break;
        const role = text(fields.role) ?? 'assistant';
        this.add(
          row(event, `message ${role}`, label(role), h('div', { className: 'message-text' }, content)),
        );
        break;
      }
      case 'tool_call_started':
      case 'tool_call_completed':
      case 'tool_call_failed':
      case 'tool_approval_requested':
      case 'tool_approval_granted':
      case 'tool_approval_denied': {
        const toolCallId = String(fields.toolCallId ?? event.id);
        let tool = this.tools.get(toolCallId);
        if (!tool) {
          tool = new ToolView(this.runId, toolCallId, event, this.actions);
          this.tools.set(toolCallId, tool);
          this.add(tool.element);
        } else {
          this.stream = undefined;
        }
        tool.apply(event, this.ended);
        break;
      }
      case 'token_usage_updated': {
        const total =
          typeof fields.totalTokens === 'number'
            ? fields.totalTokens
            : Number(fields.inputTokens ?? 0) + Number(fields.outputTokens ?? 0);
        this.liveTokens = total;
        break;
      }
      case 'error_occurred': {
        const attempt = typeof fields.attempt === 'number' ? fields.attempt : undefined;
        this.add(
          row(
            event,
            'error',
            label('error', 'label error-label'),
            h('code', null, String(fields.errorCode ?? fields.code ?? 'error')),
            attempt !== undefined ? ` · attempt ${attempt}` : '',
            fields.provider || event.provider ? ` on ${String(fields.provider ?? event.provider)}` : '',
            h('div', { className: 'error-text' }, String(fields.errorMessage ?? '')),
            attempt !== undefined
              ? h('div', { className: 'muted' }, 'The router fails over to the next provider.')
              : '',
          ),
        );
        break;
      }
      case 'error_recovered': {
        const attempt = typeof fields.attempt === 'number' ? fields.attempt : undefined;
        if (typeof fields.provider === 'string') this.liveProvider = fields.provider;
        this.liveModel = text(fields.model) ?? this.liveModel;
        this.add(
          row(
            event,
            'recovered',
            label('failover', 'label recovered-label'),
            `continued on ${String(fields.provider ?? event.provider ?? 'another provider')}`,
            attempt !== undefined ? ` (attempt ${attempt})` : '',
            text(fields.failoverFrom)
              ? h('span', { className: 'muted' }, ` after ${fields.failoverFrom} failed`)
              : '',
          ),
        );
        break;
      }
      case 'policy_violation': {
        const { policy, kind, action, ...rest } = fields;
        const details = (rest.details ?? {}) as Record<string, unknown>;
        const reason =
          text(details.reason) ??
          text(details.message) ??
          (details.limitKey !== undefined
            ? `${String(details.limitKey)}: ${String(details.actual)} > ${String(details.limit)}`
            : undefined);
        this.add(
          row(
            event,
            'error policy',
            label('policy violation', 'label error-label'),
            h('strong', null, String(kind ?? 'violation')),
            policy ? h('span', { className: 'muted' }, ` · policy ${String(policy)}`) : '',
            action ? h('span', { className: 'muted' }, ` · action ${String(action)}`) : '',
            reason ? h('div', { className: 'error-text' }, reason) : '',
            Object.keys(rest).length > 0
              ? h(
                  'details',
                  { className: 'tool-io' },
                  h('summary', null, 'details'),
                  h('pre', { className: 'json' }, prettyJson(rest)),
                )
              : '',
          ),
        );
        break;
      }
      case 'turn_completed':
        break;
      case 'workspace_snapshot_taken':
        this.add(
          row(
            event,
            'muted-row',
            label('snapshot'),
            `${String(fields.label ?? '')} ${String(fields.backend ?? '')} ${String(fields.ref ?? '')}`.trim(),
          ),
        );
        break;
      case 'workspace_diff_computed':
        this.add(
          row(
            event,
            'muted-row',
            label('diff'),
            `${formatCount(Number(fields.filesChanged ?? 0))} files, +${formatCount(Number(fields.insertions ?? 0))} −${formatCount(Number(fields.deletions ?? 0))}`,
            Array.isArray(fields.changedPaths)
              ? h('div', { className: 'muted' }, (fields.changedPaths as unknown[]).slice(0, 20).join(', '))
              : '',
          ),
        );
        break;
      case 'run_completed':
        this.add(
          row(
            event,
            'lifecycle ok',
            label('completed', 'label ok-label'),
            text(fields.stopReason) ? ` · ${fields.stopReason}` : '',
            typeof fields.durationMs === 'number' ? ` · ${formatDuration(fields.durationMs)}` : '',
          ),
        );
        break;
      case 'run_failed':
        this.add(
          row(
            event,
            'error',
            label('failed', 'label error-label'),
            h('code', null, String(fields.errorCode ?? '')),
            h('div', { className: 'error-text' }, String(fields.errorMessage ?? '')),
          ),
        );
        break;
      case 'run_cancelled':
        this.add(
          row(
            event,
            'lifecycle cancelled',
            label('cancelled'),
            text(fields.reason) ? ` · ${fields.reason}` : '',
          ),
        );
        break;
      case 'run_timeout':
        this.add(
          row(
            event,
            'error',
            label('timed out', 'label error-label'),
            typeof fields.timeoutMs === 'number' ? ` after ${formatDuration(fields.timeoutMs)}` : '',
          ),
        );
        break;
      default:
        this.add(
          row(
            event,
            'other',
            label(event.type),
            h('pre', { className: 'json' }, prettyJson(event.data, 2_000)),
          ),
        );
    }
    this.render();
  }
}

/** A session's runs and events, built incrementally as events arrive (backfill, then live). */
export class Timeline {
  readonly element: HTMLElement;
  private readonly sessionLog: HTMLOListElement;
  private readonly runsElement: HTMLElement;
  private readonly runs = new Map<string, RunView>();

  constructor(private readonly actions: TimelineActions) {
    this.sessionLog = h('ol', { className: 'events session-events' });
    this.runsElement = h('div', { className: 'runs' });
    this.element = h('div', { className: 'timeline' }, this.sessionLog, this.runsElement);
  }

  private view(runId: string): RunView {
    let view = this.runs.get(runId);
    if (!view) {
      view = new RunView(runId, this.actions);
      this.runs.set(runId, view);
      this.runsElement.append(view.element);
      // Keep the page readable on long sessions: older finished runs start collapsed.
      const views = [...this.runs.values()];
      for (const older of views.slice(0, -3)) if (older.ended) older.setExpanded(false);
    }
    return view;
  }

  /** Number of runs shown. */
  get runCount(): number {
    return this.runs.size;
  }

  /** Shows or updates a run from its stored record. */
  setRun(run: Run): void {
    this.view(run.id).setRun(run);
  }

  /** Applies one event of the session's log. */
  apply(event: StoredEvent): void {
    if (event.runId) {
      const known = this.runs.has(event.runId);
      this.view(event.runId).apply(event);
      if (!known) this.actions.refreshRun(event.runId);
      return;
    }
    const fields = data(event);
    const failed = event.type === 'session_failed';
    this.sessionLog.append(
      row(
        event,
        failed ? 'error' : 'muted-row',
        label(event.type.replace('session_', 'session ')),
        failed ? h('div', { className: 'error-text' }, String(fields.errorMessage ?? '')) : '',
        event.type === 'session_cancelled' && text(fields.reason) ? ` · ${fields.reason}` : '',
      ),
    );
  }
}
