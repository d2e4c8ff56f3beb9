import { AsmError } from './errors.js';

/** The seven capability types. */
export const CAPABILITY_TYPES = [
  'tool',
  'resource',
  'prompt',
  'sampling',
  'file_access',
  'network_access',
  'code_execution',
] as const;
/** A capability type. */
export type CapabilityType = (typeof CAPABILITY_TYPES)[number];

/** Something a provider can do, such as `streaming` (sampling) or `bash` (code_execution). */
export interface Capability {
  name: string;
  type: CapabilityType;
  /** Disabled capabilities do not count in negotiation. Default true. */
  enabled?: boolean;
  description?: string;
  config?: Record<string, unknown>;
  permissions?: string[];
}

// ---------------------------------------------------------------------------------------------------
// Capability
// ---------------------------------------------------------------------------------------------------

/**
 * Attributes of `createCapability`. `type` is checked at run time, so a string read from configuration
 * is accepted and rejected with `invalid_capability_type` when it names no type.
 */
export interface NewCapabilityAttributes {
  name: string;
  type: CapabilityType | (string & {});
  /** Default true. */
  enabled?: boolean;
  description?: string;
  /** Default `{}`. */
  config?: Record<string, unknown>;
  /** Default `[]`. */
  permissions?: string[];
}

/** True when `value` names one of the seven capability types. */
export function isCapabilityType(value: unknown): value is CapabilityType {
  return typeof value === 'string' && (CAPABILITY_TYPES as readonly string[]).includes(value);
}

/** True unless the capability is explicitly disabled (`enabled` defaults to true). */
export function isCapabilityEnabled(capability: Capability): boolean {
  return capability.enabled !== false;
}

function requireCapabilityType(value: unknown, field: string): CapabilityType {
  if (!isCapabilityType(value)) {
    throw new AsmError('invalid_capability_type', `Invalid capability type: ${String(value)}`, {
      details: { field, type: value, allowed: CAPABILITY_TYPES },
    });
  }
  return value;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Creates a capability, with `enabled` true, `config` `{}` and `permissions` `[]` unless given.
 *
 * Throws `validation_error` when `name` is missing or empty or `type` is missing, and
 * `invalid_capability_type` when `type` names no capability type.
 */
export function createCapability(attributes: NewCapabilityAttributes): Capability {
  if (!isPlainRecord(attributes)) {
    throw new AsmError('validation_error', 'Capability attributes must be an object');
  }
  const { name, type } = attributes;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new AsmError('validation_error', 'Capability name is required', { details: { field: 'name' } });
  }
  if (type === undefined || type === null) {
    throw new AsmError('validation_error', 'Capability type is required', {
      details: { field: 'type', name },
    });
  }
  if (typeof attributes.enabled !== 'undefined' && typeof attributes.enabled !== 'boolean') {
    throw new AsmError('validation_error', 'Capability enabled must be a boolean', {
      details: { field: 'enabled', name },
    });
  }
  const capability: Capability = {
    name,
    type: requireCapabilityType(type, 'type'),
    enabled: attributes.enabled ?? true,
    config: { ...(attributes.config ?? {}) },
    permissions: [...(attributes.permissions ?? [])],
  };
  if (attributes.description !== undefined) capability.description = attributes.description;
  return capability;
}

/** A copy of the capability with `enabled: true`. */
export function enableCapability(capability: Capability): Capability {
  return { ...capability, enabled: true };
}

/** A copy of the capability with `enabled: false`. */
export function disableCapability(capability: Capability): Capability {
  return { ...capability, enabled: false };
}

/** True when at least one **enabled** capability has the given type. */
export function hasCapabilityType(capabilities: readonly Capability[], type: CapabilityType): boolean {
  return capabilities.some((capability) => capability.type === type && isCapabilityEnabled(capability));
}

/** The **enabled** capabilities of the given type, in input order. */
export function capabilitiesOfType(capabilities: readonly Capability[], type: CapabilityType): Capability[] {
  return capabilities.filter((capability) => capability.type === type && isCapabilityEnabled(capability));
}

// ---------------------------------------------------------------------------------------------------
// Negotiation
// ---------------------------------------------------------------------------------------------------

/** What a caller needs from a provider: required types fail negotiation, optional ones degrade it. */
export interface CapabilityRequirements {
  /** Types without which negotiation fails (`missing_required_capability`). */
  required?: readonly (CapabilityType | (string & {}))[];
  /** Types whose absence makes the result `degraded`, with a warning each. */
  optional?: readonly (CapabilityType | (string & {}))[];
}

/** The outcome of a successful negotiation. */
export interface NegotiationResult {
  /** `full` when every requested type is supported, `degraded` when an optional one is missing. */
  status: 'full' | 'degraded';
  /** Requested types (required, then optional) that an enabled capability provides. */
  supported: CapabilityType[];
  /** Optional types that no enabled capability provides. */
  unsupported: CapabilityType[];
  /** One warning per unsupported optional type. */
  warnings: string[];
}

/** A reusable set of requirements; see `createCapabilityResolver`. */
export interface CapabilityResolver {
  /** Types that must be present, deduplicated, in the order given. */
  readonly required: readonly CapabilityType[];
  /** Types whose absence only degrades the result (never also in `required`). */
  readonly optional: readonly CapabilityType[];
  /**
   * Checks capabilities against the requirements, counting enabled capabilities only.
   * Throws `missing_required_capability` ("Missing required capability types: a, b", with
   * `details.missing`) when a required type is absent.
   */
  negotiate(capabilities: readonly Capability[]): NegotiationResult;
}

function normalizeTypeList(values: CapabilityRequirements['required'], field: string): CapabilityType[] {
  if (values === undefined) return [];
  if (!Array.isArray(values)) {
    throw new AsmError('validation_error', `${field} must be an array of capability types`, {
      details: { field },
    });
  }
  const result: CapabilityType[] = [];
  for (const value of values) {
    const type = requireCapabilityType(value, field);
    if (!result.includes(type)) result.push(type);
  }
  return result;
}

/**
 * Creates a resolver from required and optional capability types (deduplicated; a type listed as
 * both counts as required). An invalid type is `invalid_capability_type`.
 */
export function createCapabilityResolver(requirements: CapabilityRequirements = {}): CapabilityResolver {
  const required = normalizeTypeList(requirements.required, 'required');
  const optional = normalizeTypeList(requirements.optional, 'optional').filter(
    (type) => !required.includes(type),
  );
  Object.freeze(required);
  Object.freeze(optional);
  return Object.freeze({
    required,
    optional,
    negotiate(capabilities: readonly Capability[]): NegotiationResult {
      const available = new Set<CapabilityType>();
      for (const capability of capabilities) {
        if (isCapabilityEnabled(capability)) available.add(capability.type);
      }
      const missing = required.filter((type) => !available.has(type));
      if (missing.length > 0) {
        throw new AsmError(
          'missing_required_capability',
          `Missing required capability types: ${missing.join(', ')}`,
          {
            details: { missing },
          },
        );
      }
      const supported = [...required, ...optional.filter((type) => available.has(type))];
      const unsupported = optional.filter((type) => !available.has(type));
      return {
        status: unsupported.length === 0 ? 'full' : 'degraded',
        supported,
        unsupported,
        warnings: unsupported.map((type) => `Optional capability '${type}' is not supported by the provider`),
      };
    },
  });
}

/** One-shot negotiation: `createCapabilityResolver(requirements).negotiate(capabilities)`. */
export function negotiateCapabilities(
  capabilities: readonly Capability[],
  requirements: CapabilityRequirements,
): NegotiationResult {
  return createCapabilityResolver(requirements).negotiate(capabilities);
}

// ---------------------------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------------------------

/** A named, versioned description of what an agent or provider offers. Treat it as immutable. */
export interface Manifest {
  name: string;
  version: string;
  description?: string;
  /** The provider (adapter name) the manifest belongs to, for `filterByProvider`. */
  provider?: string;
  capabilities: Capability[];
  config: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** Attributes of `createManifest`; capabilities may be plain attribute objects. */
export interface NewManifestAttributes {
  name: string;
  version: string;
  description?: string;
  provider?: string;
  capabilities?: readonly (Capability | NewCapabilityAttributes)[];
  config?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

function requireNonEmpty(value: unknown, field: string, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new AsmError('validation_error', `${what} ${field} is required`, { details: { field } });
  }
  return value;
}

/**
 * Creates a manifest. `name` and `version` must be non-empty strings (`validation_error`); each
 * capability goes through `createCapability`. Unlike the reference library, two capabilities with one
 * name are rejected here too (`duplicate_capability`), as `addCapability` rejects them.
 */
export function createManifest(attributes: NewManifestAttributes): Manifest {
  if (!isPlainRecord(attributes)) {
    throw new AsmError('validation_error', 'Manifest attributes must be an object');
  }
  const manifest: Manifest = {
    name: requireNonEmpty(attributes.name, 'name', 'Manifest'),
    version: requireNonEmpty(attributes.version, 'version', 'Manifest'),
    capabilities: [],
    config: { ...(attributes.config ?? {}) },
    metadata: { ...(attributes.metadata ?? {}) },
  };
  if (attributes.description !== undefined) manifest.description = attributes.description;
  if (attributes.provider !== undefined) manifest.provider = attributes.provider;
  let result = manifest;
  for (const capability of attributes.capabilities ?? []) result = addCapability(result, capability);
  return result;
}

/** A new manifest with the capability appended. A name already present is `duplicate_capability`. */
export function addCapability(
  manifest: Manifest,
  capability: Capability | NewCapabilityAttributes,
): Manifest {
  const created = createCapability(capability);
  if (manifest.capabilities.some((existing) => existing.name === created.name)) {
    throw new AsmError('duplicate_capability', `Capability already exists: ${created.name}`, {
      details: { manifest: manifest.name, capability: created.name },
    });
  }
  return { ...manifest, capabilities: [...manifest.capabilities, created] };
}

function capabilityNotFound(manifest: Manifest, name: string): AsmError {
  return new AsmError('capability_not_found', `Capability not found: ${name}`, {
    details: { manifest: manifest.name, capability: name },
  });
}

/** A new manifest without the named capability; an unknown name is `capability_not_found`. */
export function removeCapability(manifest: Manifest, name: string): Manifest {
  if (!manifest.capabilities.some((capability) => capability.name === name))
    throw capabilityNotFound(manifest, name);
  return {
    ...manifest,
    capabilities: manifest.capabilities.filter((capability) => capability.name !== name),
  };
}

/** The named capability of a manifest; an unknown name is `capability_not_found`. */
export function getCapability(manifest: Manifest, name: string): Capability {
  const found = manifest.capabilities.find((capability) => capability.name === name);
  if (!found) throw capabilityNotFound(manifest, name);
  return found;
}

/** The enabled capabilities of a manifest, in order. */
export function enabledCapabilities(manifest: Manifest): Capability[] {
  return manifest.capabilities.filter(isCapabilityEnabled);
}

/**
 * Checks a manifest as the registry does: non-empty `name` and `version`, and every capability with a
 * non-empty name and a valid type. Throws `validation_error` naming the offending field.
 */
export function validateManifest(manifest: unknown): asserts manifest is Manifest {
  if (!isPlainRecord(manifest)) throw new AsmError('validation_error', 'A manifest must be an object');
  requireNonEmpty(manifest.name, 'name', 'Manifest');
  requireNonEmpty(manifest.version, 'version', 'Manifest');
  if (!Array.isArray(manifest.capabilities)) {
    throw new AsmError('validation_error', 'Manifest capabilities must be an array', {
      details: { field: 'capabilities' },
    });
  }
  manifest.capabilities.forEach((capability: unknown, index: number) => {
    const field = `capabilities[${index}]`;
    if (!isPlainRecord(capability)) {
      throw new AsmError('validation_error', `${field} must be an object`, { details: { field } });
    }
    if (typeof capability.name !== 'string' || capability.name.trim() === '') {
      throw new AsmError('validation_error', `${field}.name is required`, {
        details: { field: `${field}.name` },
      });
    }
    if (!isCapabilityType(capability.type)) {
      throw new AsmError(
        'validation_error',
        `${field}.type is not a valid capability type: ${String(capability.type)}`,
        {
          details: { field: `${field}.type`, type: capability.type, allowed: CAPABILITY_TYPES },
        },
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------------

/**
 * An immutable registry of manifests keyed by name: every change returns a new registry and leaves
 * the old one as it was.
 */
export interface Registry {
  /** Free-form metadata given to `createRegistry`. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Adds a manifest after `validateManifest`; a name already registered is `already_exists`. */
  register(manifest: Manifest): Registry;
  /** Removes the named manifest; an unknown name is `not_found`. */
  unregister(name: string): Registry;
  /** The named manifest; an unknown name is `not_found`. */
  get(name: string): Manifest;
  /**
   * Replaces the named manifest with `manifest` (or with what `update(current)` returns), after
   * `validateManifest`. An unknown name is `not_found`; renaming is `validation_error`.
   */
  update(name: string, manifest: Manifest | ((current: Manifest) => Manifest)): Registry;
  /** Every manifest, sorted by name. */
  list(): Manifest[];
  /** True when a manifest of that name is registered. */
  has(name: string): boolean;
  /** How many manifests are registered. */
  count(): number;
  /** Manifests whose `provider` equals `provider`, sorted by name. */
  filterByProvider(provider: string): Manifest[];
  /** Manifests with at least one **enabled** capability of `type`, sorted by name. */
  filterByCapability(type: CapabilityType): Manifest[];
}

function registryNotFound(name: string): AsmError {
  return new AsmError('not_found', `Manifest not found: ${name}`, { details: { name } });
}

function buildRegistry(entries: ReadonlyMap<string, Manifest>, metadata: Record<string, unknown>): Registry {
  const sorted = (): Manifest[] =>
    [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const registry: Registry = {
    metadata,
    register(manifest) {
      validateManifest(manifest);
      if (entries.has(manifest.name)) {
        throw new AsmError('already_exists', `Manifest already registered: ${manifest.name}`, {
          details: { name: manifest.name },
        });
      }
      const next = new Map(entries);
      next.set(manifest.name, manifest);
      return buildRegistry(next, metadata);
    },
    unregister(name) {
      if (!entries.has(name)) throw registryNotFound(name);
      const next = new Map(entries);
      next.delete(name);
      return buildRegistry(next, metadata);
    },
    get(name) {
      const found = entries.get(name);
      if (!found) throw registryNotFound(name);
      return found;
    },
    update(name, manifest) {
      const current = entries.get(name);
      if (!current) throw registryNotFound(name);
      const replacement = typeof manifest === 'function' ? manifest(current) : manifest;
      validateManifest(replacement);
      if (replacement.name !== name) {
        throw new AsmError(
          'validation_error',
          `update cannot rename manifest ${name} to ${replacement.name}`,
          {
            details: { field: 'name', name, newName: replacement.name },
          },
        );
      }
      const next = new Map(entries);
      next.set(name, replacement);
      return buildRegistry(next, metadata);
    },
    list: sorted,
    has: (name) => entries.has(name),
    count: () => entries.size,
    filterByProvider: (provider) => sorted().filter((manifest) => manifest.provider === provider),
    filterByCapability: (type) =>
      sorted().filter((manifest) => hasCapabilityType(manifest.capabilities, type)),
  };
  return Object.freeze(registry);
}

/** Creates an empty immutable registry; see `Registry`. */
export function createRegistry(options: { metadata?: Record<string, unknown> } = {}): Registry {
  return buildRegistry(new Map(), Object.freeze({ ...(options.metadata ?? {}) }));
}
