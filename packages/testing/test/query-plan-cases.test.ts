import { describe, expect, it } from 'vitest';
import { queryPlanCases, queryPlanCasesWith, queryPlanDataset } from '../src/index.js';

const allNames = (): Record<string, { tag: string }> =>
  Object.fromEntries(queryPlanCases.map((testCase) => [testCase.name, { tag: `plan of ${testCase.name}` }]));

describe('queryPlanCases', () => {
  it('names every case once', () => {
    const names = queryPlanCases.map((testCase) => testCase.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('queryPlanCasesWith - joins each case with its expectation, in order', () => {
    const joined = queryPlanCasesWith(allNames());
    expect(joined.map((testCase) => testCase.name)).toEqual(queryPlanCases.map((testCase) => testCase.name));
    for (const testCase of joined) expect(testCase.tag).toBe(`plan of ${testCase.name}`);
  });

  it('queryPlanCasesWith - throws for a case without an expectation', () => {
    const expectations = allNames();
    delete expectations.getSessionStats;
    expect(() => queryPlanCasesWith(expectations)).toThrow(
      'query plan case without an expectation: getSessionStats',
    );
  });

  it('queryPlanCasesWith - throws for an expectation that names no case', () => {
    expect(() => queryPlanCasesWith({ ...allNames(), 'searchEvents: gone': { tag: 'x' } })).toThrow(
      'plan expectation for no query plan case: searchEvents: gone',
    );
  });

  it('queryPlanDataset - the window holds one hour and the last event is the newest', () => {
    const { eventSecond, isoAt, windowStart, windowEnd, lastSecond, sessions, eventsPerSession } =
      queryPlanDataset;
    expect(Date.parse(windowEnd) - Date.parse(windowStart)).toBe(3_599_000);
    expect(lastSecond).toBe(sessions * eventsPerSession - 1);
    expect(isoAt(eventSecond(0, 1))).toBe('2026-01-01T00:00:00.000Z');
    expect(queryPlanDataset.sessionId(255)).toBe(`ses_${'0'.repeat(30)}ff`);
    expect(queryPlanDataset.eventSecondSql('s', 'q')).toBe('(s / 100) * 100000 + (q - 1) * 100 + s % 100');
  });
});
