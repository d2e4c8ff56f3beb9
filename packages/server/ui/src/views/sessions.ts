import { ApiError, api, type Session, type SessionWithSummary, segment } from '../api';
import { h, replaceChildren } from '../dom';
import { formatCost, formatCount, relativeTime, shortId } from '../format';
import { errorBox, every, statusBadge } from './common';

interface SessionsPage {
  sessions: SessionWithSummary[];
  nextCursor: string | null;
  totalCount?: number;
}

const STATUSES = ['', 'pending', 'active', 'paused', 'completed', 'failed', 'cancelled'];
/** Whether the store can order sessions (newest activity first); learnt from the first answer. */
let canOrder = true;

function runsCell(session: SessionWithSummary): HTMLElement {
  const counts = session.summary.runStatusCounts;
  const parts: HTMLElement[] = [h('span', null, formatCount(session.summary.runs))];
  for (const status of ['running', 'pending', 'failed', 'cancelled', 'timeout'] as const) {
    const count = counts[status];
    if (count) parts.push(h('span', { className: `mini status-${status}` }, `${count} ${status}`));
  }
  return h('td', null, h('div', { className: 'runs-cell' }, parts));
}

function sessionRow(session: SessionWithSummary): HTMLTableRowElement {
  const summary = session.summary;
  const href = `#/sessions/${segment(session.id)}`;
  return h(
    'tr',
    { 'data-session-id': session.id, className: summary.activeRuns > 0 ? 'active-row' : '' },
    h(
      'td',
      null,
      h('a', { href, title: session.id, className: 'session-link' }, h('code', null, shortId(session.id))),
      session.tags.length > 0
        ? h(
            'div',
            { className: 'tags' },
            session.tags.map((tag) => h('span', { className: 'tag' }, tag)),
          )
        : '',
    ),
    h('td', null, session.agentId),
    h('td', null, statusBadge(session.status)),
    h(
      'td',
      null,
      summary.providers.join(', ') || '—',
      summary.models.length > 0 ? h('div', { className: 'muted small-text' }, summary.models.join(', ')) : '',
    ),
    runsCell(session),
    h(
      'td',
      {
        className: 'number',
        title: `${formatCount(summary.inputTokens)} in · ${formatCount(summary.outputTokens)} out`,
      },
      formatCount(summary.totalTokens),
    ),
    h(
      'td',
      {
        className: 'number',
        title: summary.unpricedRuns > 0 ? `${summary.unpricedRuns} run(s) without a known price` : '',
      },
      formatCost(summary.costUsd, summary.unpricedRuns),
      summary.unpricedRuns > 0 && summary.costUsd > 0 ? h('span', { className: 'muted' }, ' +?') : '',
    ),
    h('td', { className: 'muted', title: session.updatedAt }, relativeTime(session.updatedAt)),
  );
}

/** The sessions list: status, agent, providers, runs, tokens and cost; refreshed every few seconds. */
export function sessionsView(root: HTMLElement, signal: AbortSignal): void {
  const status = h(
    'select',
    { 'aria-label': 'Status', name: 'status' },
    STATUSES.map((value) => h('option', { value }, value === '' ? 'any status' : value)),
  );
  const agent = h('input', { type: 'search', placeholder: 'agent id', 'aria-label': 'Agent', name: 'agent' });
  const newAgent = h('input', {
    type: 'text',
    placeholder: 'agent id',
    value: 'dashboard',
    'aria-label': 'New session agent',
  });
  const body = h('tbody');
  const count = h('span', { className: 'muted' });
  const problems = h('div');
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let pages = 1;

  const query = (cursor?: string) => {
    const params = new URLSearchParams({ include: 'summary', limit: '50' });
    if (canOrder) params.set('order', 'updatedAtDesc');
    if (status.value) params.set('status', status.value);
    if (agent.value.trim()) params.set('agentId', agent.value.trim());
    if (cursor) params.set('cursor', cursor);
    return `api/sessions?${params}`;
  };

  const load = async () => {
    const rows: SessionWithSummary[] = [];
    let cursor: string | undefined;
    let page: SessionsPage | undefined;
    try {
      for (let index = 0; index < pages; index++) {
        try {
          page = await api<SessionsPage>(query(cursor));
        } catch (error) {
          if (error instanceof ApiError && error.status === 501 && canOrder) {
            canOrder = false;
            page = await api<SessionsPage>(query(cursor));
          } else throw error;
        }
        rows.push(...page.sessions);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
    } catch (error) {
      if (!signal.aborted) replaceChildren(problems, errorBox(error));
      return;
    }
    if (signal.aborted) return;
    replaceChildren(problems);
    replaceChildren(
      body,
      rows.length === 0
        ? h('tr', null, h('td', { colspan: 8, className: 'empty' }, 'No sessions yet.'))
        : rows.map(sessionRow),
    );
    count.textContent =
      page?.totalCount !== undefined ? `${formatCount(page.totalCount)} sessions` : `${rows.length} shown`;
    more.hidden = !page?.nextCursor;
  };

  status.addEventListener('change', () => void load());
  agent.addEventListener('change', () => void load());
  more.addEventListener('click', () => {
    pages++;
    void load();
  });

  const create = h(
    'form',
    {
      className: 'inline-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        try {
          const session = await api<Session>('api/sessions', {
            method: 'POST',
            body: { agentId: newAgent.value.trim() || 'dashboard' },
          });
          window.location.hash = `#/sessions/${segment(session.id)}`;
        } catch (error) {
          replaceChildren(problems, errorBox(error));
        }
      },
    },
    newAgent,
    h('button', { type: 'submit', className: 'primary' }, 'New session'),
  );

  replaceChildren(
    root,
    h(
      'div',
      { className: 'page-head' },
      h('h1', null, 'Sessions'),
      count,
      h('span', { className: 'spacer' }),
      create,
    ),
    h('div', { className: 'filters' }, status, agent),
    problems,
    h(
      'table',
      { className: 'sessions' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Session', 'Agent', 'Status', 'Provider', 'Runs', 'Tokens', 'Cost', 'Updated'].map((title) =>
            h('th', { className: title === 'Tokens' || title === 'Cost' ? 'number' : '' }, title),
          ),
        ),
      ),
      body,
    ),
    more,
  );
  every(4_000, signal, load);
}
