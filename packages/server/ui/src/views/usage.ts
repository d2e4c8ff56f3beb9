import { api, type UsageReport } from '../api';
import { h, replaceChildren } from '../dom';
import { formatCost, formatCount } from '../format';
import { errorBox, every } from './common';
import { providerModelTable, usageCards } from './usage-table';

const WINDOWS: Record<string, number | undefined> = {
  'all time': undefined,
  'last 24 hours': 86_400_000,
  'last 7 days': 7 * 86_400_000,
  'last 30 days': 30 * 86_400_000,
};

/** Usage and cost over every session, per provider and per provider and model. */
export function usageView(root: HTMLElement, signal: AbortSignal): void {
  const window_ = h(
    'select',
    { 'aria-label': 'Time window' },
    Object.keys(WINDOWS).map((name) => h('option', { value: name }, name)),
  );
  const content = h('div', null, h('p', { className: 'muted' }, 'Loading…'));
  const load = async () => {
    const span = WINDOWS[window_.value];
    const params = new URLSearchParams();
    if (span !== undefined) params.set('since', new Date(Date.now() - span).toISOString());
    let report: UsageReport & { truncated?: boolean };
    try {
      report = await api<UsageReport & { truncated?: boolean }>(`api/usage?${params}`);
    } catch (error) {
      if (!signal.aborted) replaceChildren(content, errorBox(error));
      return;
    }
    if (signal.aborted) return;
    const providers = Object.entries(report.byProvider).sort(
      ([, left], [, right]) => right.costUsd - left.costUsd || right.totalTokens - left.totalTokens,
    );
    replaceChildren(
      content,
      usageCards(report),
      report.truncated
        ? h('p', { className: 'warning-text' }, 'Only the first 200,000 runs are counted.')
        : '',
      h('h2', null, 'By provider'),
      h(
        'table',
        { className: 'usage-table by-provider' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', null, 'Provider'),
            h('th', { className: 'number' }, 'Runs'),
            h('th', { className: 'number' }, 'Tokens'),
            h('th', { className: 'number' }, 'Cost'),
          ),
        ),
        h(
          'tbody',
          null,
          providers.map(([name, entry]) =>
            h(
              'tr',
              { 'data-provider': name },
              h('td', null, name),
              h('td', { className: 'number' }, formatCount(entry.runs)),
              h('td', { className: 'number' }, formatCount(entry.totalTokens)),
              h('td', { className: 'number' }, formatCost(entry.costUsd, entry.unpricedRuns)),
            ),
          ),
        ),
      ),
      h('h2', null, 'By provider and model'),
      providerModelTable(report),
    );
  };
  window_.addEventListener('change', () => void load());
  replaceChildren(
    root,
    h(
      'div',
      { className: 'page-head' },
      h('h1', null, 'Usage and cost'),
      h('span', { className: 'spacer' }),
      window_,
    ),
    content,
  );
  every(10_000, signal, load);
}
