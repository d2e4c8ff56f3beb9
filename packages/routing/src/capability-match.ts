import {
  AsmError,
  type Capability,
  type CapabilityType,
  isCapabilityEnabled,
  isCapabilityType,
} from '@asm/core';

/**
 * What a run needs from a provider: a capability type (`'code_execution'`: any enabled capability of
 * that type), or a type and a name (`{ type: 'tool', name: 'bash' }`: exactly that capability).
 */
export type CapabilityRequirement = CapabilityType | { type: CapabilityType; name?: string };

function requirementParts(requirement: unknown): { type: unknown; name: unknown } | undefined {
  if (typeof requirement === 'string') return { type: requirement, name: undefined };
  if (typeof requirement === 'object' && requirement !== null && !Array.isArray(requirement)) {
    const record = requirement as Record<string, unknown>;
    return { type: record.type, name: record.name ?? undefined };
  }
  return undefined;
}

/** True when the requirement is well formed (a known type, and a non-empty name when one is given). */
export function isCapabilityRequirement(requirement: unknown): requirement is CapabilityRequirement {
  const parts = requirementParts(requirement);
  if (parts === undefined || !isCapabilityType(parts.type)) return false;
  return parts.name === undefined || (typeof parts.name === 'string' && parts.name !== '');
}

/**
 * True when some **enabled** capability satisfies the requirement: same type, and the same name when
 * the requirement names one. A malformed requirement never matches.
 */
export function matchesCapability(capabilities: readonly Capability[], requirement: unknown): boolean {
  if (!isCapabilityRequirement(requirement)) return false;
  const parts = requirementParts(requirement)!;
  return capabilities.some(
    (capability) =>
      isCapabilityEnabled(capability) &&
      capability.type === parts.type &&
      (parts.name === undefined || capability.name === parts.name),
  );
}

/** True when every requirement is satisfied (an empty list always is). */
export function matchesAllCapabilities(
  capabilities: readonly Capability[],
  requirements: readonly unknown[],
): boolean {
  return requirements.every((requirement) => matchesCapability(capabilities, requirement));
}

/**
 * Checks a requirement list from options: `invalid_capability_type` for an unknown type,
 * `validation_error` for anything else malformed. Returns a copy.
 */
export function checkCapabilityRequirements(value: unknown, field: string): CapabilityRequirement[] {
  if (!Array.isArray(value)) {
    throw new AsmError('validation_error', `${field} must be an array of capability requirements`, {
      details: { field },
    });
  }
  return value.map((requirement: unknown, index) => {
    const parts = requirementParts(requirement);
    if (parts !== undefined && !isCapabilityType(parts.type)) {
      throw new AsmError('invalid_capability_type', `Invalid capability type: ${String(parts.type)}`, {
        details: { field: `${field}[${index}]`, type: parts.type },
      });
    }
    if (!isCapabilityRequirement(requirement)) {
      throw new AsmError(
        'validation_error',
        `${field}[${index}] must be a capability type or { type, name }`,
        { details: { field: `${field}[${index}]` } },
      );
    }
    return typeof requirement === 'string'
      ? requirement
      : requirement.name === undefined
        ? { type: requirement.type }
        : { type: requirement.type, name: requirement.name };
  });
}

/**
 * The union of several providers' capabilities, de-duplicated by type, name and enabled flag, in
 * first-seen order.
 */
export function unionCapabilities(lists: readonly (readonly Capability[])[]): Capability[] {
  const seen = new Set<string>();
  const union: Capability[] = [];
  for (const list of lists) {
    for (const capability of list) {
      const key = `${capability.type}\u0000${capability.name}\u0000${isCapabilityEnabled(capability)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      union.push(capability);
    }
  }
  return union;
}
