import { api, type Run, type Session, segment, type UsageReport } from '../api';
import { h, replaceChildren } from '../dom';
import { relativeTime } from '../format';
import { followEvents, type StreamState } from '../sse';
import { Timeline } from '../timeline';
import { debouncer, errorBox, statusBadge } from './common';
import { providerModelTable, usageCards } from './usage-table';

/** Shows the live connection state in the top bar. */
function showConnection(state: StreamState | undefined): void {
  const element = document.getElementById('connection');
  if (!element) return;
  element.hidden = state === undefined;
  element.dataset.state = state ?? '';
  element.textContent =
    state === 'live'
      ? '● live'
      : state === 'reconnecting'
        ? 'reconnecting…'
        : state === 'connecting'
          ? 'connecting…'
          : 'offline';
}

/**
 * One session: its runs and events as a timeline, live while runs stream (the Server-Sent Events
 * stream resumes after a dropped connection), with cancel, approve and deny, a form to start a run,
 * and the session's usage per provider and model.
 */
export function sessionView(root: HTMLElement, sessionId: string, signal: AbortSignal): void {
  const head = h('div', { className: 'session-head' }, h('p', { className: 'muted' }, 'Loading…'));
  const usage = h('div', { className: 'session-usage' });
  const problems = h('div');
  const later = debouncer(300);
  let usageOpen = false;

  const refreshSession = async () => {
    try {
      const [session, report] = await Promise.all([
        api<Session>(`api/sessions/${segment(sessionId)}`),
        api<UsageReport>(`api/sessions/${segment(sessionId)}/usage`),
      ]);
      if (signal.aborted) return;
      renderHead(session);
      replaceChildren(
        usage,
        h(
          'details',
          { className: 'usage-details' },
          h('summary', null, 'Usage and cost'),
          usageCards(report),
          providerModelTable(report),
        ),
      );
      const details = usage.querySelector('details');
      if (details && usageOpen) details.open = true;
      details?.addEventListener('toggle', () => {
        usageOpen = details.open;
      });
    } catch (error) {
      if (!signal.aborted) replaceChildren(problems, errorBox(error));
    }
  };

  const renderHead = (session: Session) => {
    const provider = typeof session.metadata.provider === 'string' ? session.metadata.provider : undefined;
    replaceChildren(
      head,
      h('a', { href: '#/', className: 'back' }, '← Sessions'),
      h('h1', null, h('code', { className: 'session-id' }, session.id), ' ', statusBadge(session.status)),
      h(
        'div',
        { className: 'session-meta' },
        h('span', null, 'agent ', h('strong', null, session.agentId)),
        provider ? h('span', null, 'provider ', h('strong', null, provider)) : '',
        h('span', { title: session.createdAt }, `created ${relativeTime(session.createdAt)}`),
        session.tags.length > 0
          ? h(
              'span',
              { className: 'tags' },
              session.tags.map((tag) => h('span', { className: 'tag' }, tag)),
            )
          : '',
      ),
    );
  };

  const timeline = new Timeline({
    cancelRun: async (runId) => {
      await api(`api/runs/${segment(runId)}/cancel`, {
        method: 'POST',
        body: { reason: 'Cancelled from the dashboard' },
      });
    },
    approve: async (runId, toolCallId) => {
      await api(`api/runs/${segment(runId)}/approvals/${segment(toolCallId)}/approve`, {
        method: 'POST',
        body: { approvedBy: 'dashboard' },
      });
    },
    deny: async (runId, toolCallId, reason) => {
      await api(`api/runs/${segment(runId)}/approvals/${segment(toolCallId)}/deny`, {
        method: 'POST',
        body: { deniedBy: 'dashboard', ...(reason ? { reason } : {}) },
      });
    },
    refreshRun: (runId) => {
      later(runId, async () => {
        try {
          const run = await api<Run>(`api/runs/${segment(runId)}`);
          if (!signal.aborted) timeline.setRun(run);
        } catch {
          // the next event refreshes it again
        }
      });
      later('session', () => void refreshSession());
    },
  });

  const input = h('textarea', {
    rows: 2,
    placeholder: 'Prompt for a new run',
    'aria-label': 'Prompt',
    name: 'prompt',
  });
  const submit = h('button', { type: 'submit', className: 'primary' }, 'Run');
  const form = h(
    'form',
    {
      className: 'new-run',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const prompt = input.value.trim();
        if (!prompt) return;
        submit.disabled = true;
        try {
          const { runId } = await api<{ runId: string }>(`api/sessions/${segment(sessionId)}/runs`, {
            method: 'POST',
            body: { input: prompt },
          });
          input.value = '';
          timeline.setRun(await api<Run>(`api/runs/${segment(runId)}`));
          replaceChildren(problems);
        } catch (error) {
          replaceChildren(problems, errorBox(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    input,
    submit,
  );

  replaceChildren(root, head, usage, problems, timeline.element, form);

  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  let stick = true;
  window.addEventListener('scroll', () => (stick = nearBottom()), { signal, passive: true });
  signal.addEventListener('abort', () => showConnection(undefined), { once: true });

  void (async () => {
    await refreshSession();
    try {
      const { runs } = await api<{ runs: Run[] }>(`api/sessions/${segment(sessionId)}/runs`);
      if (signal.aborted) return;
      for (const run of runs) timeline.setRun(run);
    } catch (error) {
      if (!signal.aborted) replaceChildren(problems, errorBox(error));
      return;
    }
    followEvents(
      `api/sessions/${segment(sessionId)}/events/stream`,
      {
        onEvent: (event) => timeline.apply(event),
        onBatch: () => {
          if (stick) window.scrollTo({ top: document.body.scrollHeight });
        },
        onState: (state) => {
          if (!signal.aborted) showConnection(state);
        },
      },
      signal,
    );
  })();
}
