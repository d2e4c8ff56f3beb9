import type { UsageReport } from '../api';
import { h } from '../dom';
import { formatCost, formatCount } from '../format';

/** A table of usage per provider and model. */
export function providerModelTable(report: UsageReport): HTMLTableElement {
  const rows = report.byProviderModel;
  return h(
    'table',
    { className: 'usage-table' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Provider'),
        h('th', null, 'Model'),
        h('th', { className: 'number' }, 'Runs'),
        h('th', { className: 'number' }, 'Input'),
        h('th', { className: 'number' }, 'Output'),
        h('th', { className: 'number' }, 'Cache read'),
        h('th', { className: 'number' }, 'Cost'),
      ),
    ),
    h(
      'tbody',
      null,
      rows.length === 0
        ? h('tr', null, h('td', { colspan: 7, className: 'empty' }, 'No runs yet.'))
        : rows.map((entry) =>
            h(
              'tr',
              { 'data-provider': entry.provider, 'data-model': entry.model },
              h('td', null, entry.provider),
              h('td', null, entry.model),
              h('td', { className: 'number' }, formatCount(entry.runs)),
              h('td', { className: 'number' }, formatCount(entry.inputTokens)),
              h('td', { className: 'number' }, formatCount(entry.outputTokens)),
              h('td', { className: 'number' }, formatCount(entry.cacheReadTokens)),
              h(
                'td',
                {
                  className: 'number',
                  title: entry.unpricedRuns > 0 ? `${entry.unpricedRuns} run(s) without a known price` : '',
                },
                formatCost(entry.costUsd, entry.unpricedRuns),
              ),
            ),
          ),
    ),
  );
}

/** Headline figures of a report. */
export function usageCards(report: UsageReport): HTMLElement {
  const card = (title: string, value: string, hint?: string) =>
    h(
      'div',
      { className: 'card' },
      h('div', { className: 'card-title' }, title),
      h('div', { className: 'card-value' }, value),
      hint ? h('div', { className: 'muted small-text' }, hint) : '',
    );
  return h(
    'div',
    { className: 'cards' },
    card('Runs', formatCount(report.runs)),
    card('Input tokens', formatCount(report.inputTokens)),
    card('Output tokens', formatCount(report.outputTokens)),
    card(
      'Cost',
      formatCost(report.costUsd, report.unpricedRuns),
      report.unpricedRuns > 0 ? `${report.unpricedRuns} run(s) unpriced` : undefined,
    ),
  );
}
