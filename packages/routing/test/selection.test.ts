import type { Capability } from '@asm/core';
import { describe, expect, it } from 'vitest';
import {
  checkCapabilityRequirements,
  matchesAllCapabilities,
  matchesCapability,
  orderCandidates,
  unionCapabilities,
  weightedScore,
} from '../src/index.js';

const capabilities: Capability[] = [
  { name: 'streaming', type: 'sampling' },
  { name: 'bash', type: 'code_execution' },
  { name: 'web', type: 'network_access', enabled: false },
];

describe('capability matching', () => {
  it('matchesCapability - a bare type matches any enabled capability of that type', () => {
    expect(matchesCapability(capabilities, 'code_execution')).toBe(true);
    expect(matchesCapability(capabilities, 'file_access')).toBe(false);
  });

  it('matchesCapability - type and name must both be equal', () => {
    expect(matchesCapability(capabilities, { type: 'code_execution', name: 'bash' })).toBe(true);
    expect(matchesCapability(capabilities, { type: 'code_execution', name: 'python' })).toBe(false);
    expect(matchesCapability(capabilities, { type: 'sampling', name: 'bash' })).toBe(false);
    expect(matchesCapability(capabilities, { type: 'sampling' })).toBe(true);
  });

  it('matchesCapability - disabled capabilities and malformed requirements never match', () => {
    expect(matchesCapability(capabilities, 'network_access')).toBe(false);
    expect(matchesCapability(capabilities, { type: 'network_access', name: 'web' })).toBe(false);
    expect(matchesCapability(capabilities, 'teleport')).toBe(false);
    expect(matchesCapability(capabilities, 42)).toBe(false);
    expect(matchesCapability(capabilities, { type: 'sampling', name: '' })).toBe(false);
  });

  it('matchesAllCapabilities - every requirement must match; none always matches', () => {
    expect(matchesAllCapabilities(capabilities, [])).toBe(true);
    expect(matchesAllCapabilities(capabilities, ['sampling', { type: 'code_execution', name: 'bash' }])).toBe(
      true,
    );
    expect(matchesAllCapabilities(capabilities, ['sampling', 'file_access'])).toBe(false);
  });

  it('checkCapabilityRequirements - rejects unknown types and malformed entries', () => {
    expect(checkCapabilityRequirements(['tool', { type: 'sampling', name: 'x' }], 'f')).toEqual([
      'tool',
      { type: 'sampling', name: 'x' },
    ]);
    expect(() => checkCapabilityRequirements(['teleport'], 'f')).toThrow(/Invalid capability type/);
    expect(() => checkCapabilityRequirements([{ type: 'tool', name: 3 }], 'f')).toThrow(/f\[0\]/);
    expect(() => checkCapabilityRequirements('tool', 'f')).toThrow(/must be an array/);
  });

  it('unionCapabilities - de-duplicates by type, name and enabled flag', () => {
    const union = unionCapabilities([
      capabilities,
      [
        { name: 'streaming', type: 'sampling' },
        { name: 'web', type: 'network_access' },
      ],
    ]);
    expect(
      union.map((capability) => `${capability.type}:${capability.name}:${capability.enabled ?? true}`),
    ).toEqual([
      'sampling:streaming:true',
      'code_execution:bash:true',
      'network_access:web:false',
      'network_access:web:true',
    ]);
  });
});

describe('strategies', () => {
  const ids = ['a', 'b', 'c', 'd'];

  it('priority - prefer first in its order, then the rest in registration order', () => {
    expect(orderCandidates({ strategy: 'priority', ids })).toEqual(['a', 'b', 'c', 'd']);
    expect(orderCandidates({ strategy: 'priority', ids, prefer: ['c', 'zzz', 'b'] })).toEqual([
      'c',
      'b',
      'a',
      'd',
    ]);
  });

  it('weighted - score = weight - penalty x failures, highest first', () => {
    expect(weightedScore('a', { a: 2 }, 1)).toBe(1.5);
    expect(weightedScore('x', undefined, 0)).toBe(1);
    const order = orderCandidates({
      strategy: 'weighted',
      ids,
      weights: { a: 1, b: 3, c: 2, d: 2.4 },
      failures: { d: 1 },
    });
    expect(order).toEqual(['b', 'c', 'd', 'a']);
  });

  it('weighted - ties go to the earlier prefer entry, then to registration order', () => {
    expect(orderCandidates({ strategy: 'weighted', ids, prefer: ['d', 'c'] })).toEqual(['d', 'c', 'a', 'b']);
    expect(
      orderCandidates({
        strategy: 'weighted',
        ids,
        weights: { a: 1, b: 2 },
        failures: { b: 2 },
        failurePenalty: 0.5,
      }),
    ).toEqual(['a', 'b', 'c', 'd']);
  });

  it('round-robin - rotates the registration order by one per run', () => {
    expect(orderCandidates({ strategy: 'round-robin', ids, rotation: 0 })).toEqual(['a', 'b', 'c', 'd']);
    expect(orderCandidates({ strategy: 'round-robin', ids, rotation: 1 })).toEqual(['b', 'c', 'd', 'a']);
    expect(orderCandidates({ strategy: 'round-robin', ids, rotation: 6 })).toEqual(['c', 'd', 'a', 'b']);
    expect(orderCandidates({ strategy: 'round-robin', ids: [], rotation: 3 })).toEqual([]);
  });
});
