const integer = new Intl.NumberFormat('en-US');

/** `12,345` */
export function formatCount(value: number | undefined): string {
  return integer.format(value ?? 0);
}

/** `$0.0123`, `$4.56`, or `—` when nothing was priced. */
export function formatCost(value: number | undefined, unpriced = 0): string {
  if ((value === undefined || value === 0) && unpriced > 0) return '—';
  const cost = value ?? 0;
  if (cost === 0) return '$0';
  if (cost < 0.01) return `$${cost.toFixed(4)}`;
  if (cost < 1) return `$${cost.toFixed(3)}`;
  return `$${cost.toFixed(2)}`;
}

/** `850 ms`, `12.3 s`, `4 min 05 s` */
export function formatDuration(milliseconds: number | undefined): string {
  if (milliseconds === undefined || !Number.isFinite(milliseconds)) return '';
  if (milliseconds < 1_000) return `${Math.round(milliseconds)} ms`;
  if (milliseconds < 60_000) return `${(milliseconds / 1_000).toFixed(1)} s`;
  const minutes = Math.floor(milliseconds / 60_000);
  const seconds = Math.round((milliseconds % 60_000) / 1_000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/** Milliseconds between two ISO times, or undefined. */
export function between(start: string | undefined, end: string | undefined): number | undefined {
  if (!start) return undefined;
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : Date.now();
  return Number.isNaN(from) || Number.isNaN(to) ? undefined : Math.max(0, to - from);
}

/** `just now`, `5 min ago`, `3 h ago`, or the date. */
export function relativeTime(iso: string | undefined): string {
  if (!iso) return '';
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return iso;
  const seconds = Math.round((Date.now() - time) / 1_000);
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)} h ago`;
  return new Date(time).toISOString().slice(0, 16).replace('T', ' ');
}

/** `ses_1a2b3c…` → the prefix plus 8 characters; the full id goes in a `title`. */
export function shortId(id: string): string {
  const underscore = id.indexOf('_');
  const keep = underscore >= 0 && underscore < 8 ? underscore + 9 : 12;
  return id.length > keep + 1 ? `${id.slice(0, keep)}…` : id;
}
