import { describe, expect, it } from 'vitest';
import {
  addCapability,
  CAPABILITY_TYPES,
  type Capability,
  capabilitiesOfType,
  createCapability,
  createCapabilityResolver,
  createManifest,
  createRegistry,
  disableCapability,
  enableCapability,
  enabledCapabilities,
  getCapability,
  hasCapabilityType,
  isCapabilityType,
  negotiateCapabilities,
  removeCapability,
  validateManifest,
} from '../src/capabilities.js';
import { AsmError, type ErrorCode } from '../src/errors.js';

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (AsmError.isInstance(error)) return error.code;
    throw error;
  }
  return undefined;
}

function errorOf(fn: () => unknown): AsmError {
  try {
    fn();
  } catch (error) {
    if (AsmError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected an AsmError');
}

const streaming = createCapability({ name: 'streaming', type: 'sampling' });
const bash = createCapability({ name: 'bash', type: 'code_execution' });
const web = createCapability({ name: 'web', type: 'network_access', enabled: false });

describe('capability', () => {
  it('capability - lists the seven types and recognizes them', () => {
    expect(CAPABILITY_TYPES).toHaveLength(7);
    expect(isCapabilityType('tool')).toBe(true);
    expect(isCapabilityType('code_execution')).toBe(true);
    expect(isCapabilityType('telepathy')).toBe(false);
    expect(isCapabilityType(undefined)).toBe(false);
  });

  it('createCapability - fills defaults: enabled, empty config and permissions', () => {
    const capability = createCapability({ name: 'read', type: 'file_access', description: 'Reads files' });
    expect(capability).toEqual({
      name: 'read',
      type: 'file_access',
      enabled: true,
      description: 'Reads files',
      config: {},
      permissions: [],
    });
  });

  it('createCapability - keeps enabled false', () => {
    expect(createCapability({ name: 'x', type: 'tool', enabled: false }).enabled).toBe(false);
  });

  it('createCapability - rejects a missing or empty name with validation_error', () => {
    expect(codeOf(() => createCapability({ name: '', type: 'tool' }))).toBe('validation_error');
    expect(codeOf(() => createCapability({ type: 'tool' } as unknown as Capability))).toBe(
      'validation_error',
    );
  });

  it('createCapability - rejects a missing type with validation_error', () => {
    expect(codeOf(() => createCapability({ name: 'x' } as unknown as Capability))).toBe('validation_error');
  });

  it('createCapability - rejects an invalid type with invalid_capability_type', () => {
    expect(codeOf(() => createCapability({ name: 'x', type: 'telepathy' }))).toBe('invalid_capability_type');
  });

  it('createCapability - does not share config or permissions with its input', () => {
    const permissions = ['read'];
    const capability = createCapability({ name: 'x', type: 'tool', permissions });
    permissions.push('write');
    expect(capability.permissions).toEqual(['read']);
  });

  it('enableCapability / disableCapability - return new objects', () => {
    const disabled = disableCapability(streaming);
    expect(disabled.enabled).toBe(false);
    expect(streaming.enabled).toBe(true);
    expect(enableCapability(disabled).enabled).toBe(true);
    expect(disabled.enabled).toBe(false);
  });

  it('hasCapabilityType - counts enabled capabilities only', () => {
    const caps = [streaming, web];
    expect(hasCapabilityType(caps, 'sampling')).toBe(true);
    expect(hasCapabilityType(caps, 'network_access')).toBe(false);
    expect(hasCapabilityType([{ name: 'implicit', type: 'tool' }], 'tool')).toBe(true);
  });

  it('capabilitiesOfType - returns enabled capabilities of the type', () => {
    const second = createCapability({ name: 'python', type: 'code_execution' });
    const off = createCapability({ name: 'node', type: 'code_execution', enabled: false });
    expect(capabilitiesOfType([bash, off, streaming, second], 'code_execution')).toEqual([bash, second]);
  });
});

describe('negotiate', () => {
  it('negotiate - reports full when every requested type is present', () => {
    const resolver = createCapabilityResolver({ required: ['sampling'], optional: ['code_execution'] });
    expect(resolver.negotiate([streaming, bash])).toEqual({
      status: 'full',
      supported: ['sampling', 'code_execution'],
      unsupported: [],
      warnings: [],
    });
  });

  it('negotiate - reports degraded with a warning per missing optional type', () => {
    const result = negotiateCapabilities([streaming], {
      required: ['sampling'],
      optional: ['code_execution', 'file_access'],
    });
    expect(result.status).toBe('degraded');
    expect(result.supported).toEqual(['sampling']);
    expect(result.unsupported).toEqual(['code_execution', 'file_access']);
    expect(result.warnings).toEqual([
      "Optional capability 'code_execution' is not supported by the provider",
      "Optional capability 'file_access' is not supported by the provider",
    ]);
  });

  it('negotiate - reports missing required types', () => {
    const resolver = createCapabilityResolver({ required: ['tool', 'sampling', 'file_access'] });
    const error = errorOf(() => resolver.negotiate([streaming]));
    expect(error.code).toBe('missing_required_capability');
    expect(error.message).toBe('Missing required capability types: tool, file_access');
    expect(error.details.missing).toEqual(['tool', 'file_access']);
  });

  it('negotiate - ignores disabled capabilities', () => {
    expect(codeOf(() => negotiateCapabilities([web], { required: ['network_access'] }))).toBe(
      'missing_required_capability',
    );
    const result = negotiateCapabilities([web], { optional: ['network_access'] });
    expect(result.status).toBe('degraded');
    expect(result.unsupported).toEqual(['network_access']);
  });

  it('negotiate - with no requirements is full and empty', () => {
    expect(negotiateCapabilities([streaming], {})).toEqual({
      status: 'full',
      supported: [],
      unsupported: [],
      warnings: [],
    });
  });

  it('createCapabilityResolver - rejects invalid types with invalid_capability_type', () => {
    expect(codeOf(() => createCapabilityResolver({ required: ['telepathy'] }))).toBe(
      'invalid_capability_type',
    );
    expect(codeOf(() => createCapabilityResolver({ optional: ['nope'] }))).toBe('invalid_capability_type');
  });

  it('createCapabilityResolver - deduplicates, and a type both required and optional is required', () => {
    const resolver = createCapabilityResolver({ required: ['tool', 'tool'], optional: ['tool', 'sampling'] });
    expect(resolver.required).toEqual(['tool']);
    expect(resolver.optional).toEqual(['sampling']);
  });
});

describe('manifest', () => {
  const base = { name: 'claude-agent', version: '1.0.0', provider: 'claude' };

  it('createManifest - requires name and version', () => {
    expect(codeOf(() => createManifest({ name: '', version: '1' }))).toBe('validation_error');
    expect(codeOf(() => createManifest({ name: 'a' } as unknown as typeof base))).toBe('validation_error');
  });

  it('createManifest - builds capabilities from plain attributes and fills defaults', () => {
    const manifest = createManifest({ ...base, capabilities: [{ name: 'streaming', type: 'sampling' }] });
    expect(manifest).toMatchObject({
      name: 'claude-agent',
      version: '1.0.0',
      provider: 'claude',
      config: {},
      metadata: {},
    });
    expect(manifest.capabilities).toEqual([streaming]);
    expect(codeOf(() => createManifest({ ...base, capabilities: [{ name: 'x', type: 'bogus' }] }))).toBe(
      'invalid_capability_type',
    );
  });

  it('createManifest - rejects two capabilities with one name', () => {
    expect(codeOf(() => createManifest({ ...base, capabilities: [streaming, streaming] }))).toBe(
      'duplicate_capability',
    );
  });

  it('addCapability - returns a new manifest and rejects duplicates', () => {
    const manifest = createManifest(base);
    const next = addCapability(manifest, bash);
    expect(manifest.capabilities).toEqual([]);
    expect(next.capabilities).toEqual([bash]);
    expect(codeOf(() => addCapability(next, { name: 'bash', type: 'tool' }))).toBe('duplicate_capability');
  });

  it('removeCapability - returns a new manifest and rejects unknown names', () => {
    const manifest = createManifest({ ...base, capabilities: [bash, streaming] });
    const next = removeCapability(manifest, 'bash');
    expect(next.capabilities.map((capability) => capability.name)).toEqual(['streaming']);
    expect(manifest.capabilities).toHaveLength(2);
    expect(codeOf(() => removeCapability(manifest, 'nope'))).toBe('capability_not_found');
  });

  it('getCapability - finds by name or throws capability_not_found', () => {
    const manifest = createManifest({ ...base, capabilities: [bash] });
    expect(getCapability(manifest, 'bash')).toEqual(bash);
    expect(codeOf(() => getCapability(manifest, 'nope'))).toBe('capability_not_found');
  });

  it('enabledCapabilities - leaves out disabled ones', () => {
    const manifest = createManifest({ ...base, capabilities: [bash, web, streaming] });
    expect(enabledCapabilities(manifest)).toEqual([bash, streaming]);
  });

  it('validateManifest - names the offending field', () => {
    expect(() => validateManifest(createManifest({ ...base, capabilities: [bash] }))).not.toThrow();
    const bad = { ...createManifest(base), capabilities: [{ name: 'x', type: 'bogus' }] };
    const error = errorOf(() => validateManifest(bad));
    expect(error.code).toBe('validation_error');
    expect(error.details.field).toBe('capabilities[0].type');
    expect(codeOf(() => validateManifest({ ...createManifest(base), version: '' }))).toBe('validation_error');
    expect(codeOf(() => validateManifest(null))).toBe('validation_error');
  });
});

describe('registry', () => {
  const claude = createManifest({
    name: 'claude',
    version: '1',
    provider: 'anthropic',
    capabilities: [streaming, bash],
  });
  const codex = createManifest({
    name: 'codex',
    version: '2',
    provider: 'openai',
    capabilities: [bash, web],
  });
  const amp = createManifest({ name: 'amp', version: '3', provider: 'sourcegraph', capabilities: [web] });

  it('registry - register is immutable and list is sorted by name', () => {
    const empty = createRegistry();
    const registry = empty.register(codex).register(claude).register(amp);
    expect(empty.count()).toBe(0);
    expect(registry.count()).toBe(3);
    expect(registry.list().map((manifest) => manifest.name)).toEqual(['amp', 'claude', 'codex']);
    expect(registry.has('claude')).toBe(true);
    expect(registry.has('nope')).toBe(false);
  });

  it('registry - register validates and rejects duplicates with already_exists', () => {
    const registry = createRegistry().register(claude);
    expect(codeOf(() => registry.register(claude))).toBe('already_exists');
    expect(codeOf(() => registry.register({ ...codex, version: '' }))).toBe('validation_error');
  });

  it('registry - get, unregister and update reject unknown names with not_found', () => {
    const registry = createRegistry().register(claude);
    expect(registry.get('claude')).toBe(claude);
    expect(codeOf(() => registry.get('nope'))).toBe('not_found');
    expect(codeOf(() => registry.unregister('nope'))).toBe('not_found');
    expect(codeOf(() => registry.update('nope', claude))).toBe('not_found');
  });

  it('registry - unregister returns a new registry', () => {
    const registry = createRegistry().register(claude).register(codex);
    const next = registry.unregister('claude');
    expect(next.list().map((manifest) => manifest.name)).toEqual(['codex']);
    expect(registry.count()).toBe(2);
  });

  it('registry - update replaces a manifest and refuses renames', () => {
    const registry = createRegistry().register(claude);
    const next = registry.update('claude', (current) => ({ ...current, version: '1.1' }));
    expect(next.get('claude').version).toBe('1.1');
    expect(registry.get('claude').version).toBe('1');
    expect(codeOf(() => registry.update('claude', { ...claude, name: 'other' }))).toBe('validation_error');
  });

  it('registry - filters by provider and by enabled capability type', () => {
    const registry = createRegistry({ metadata: { owner: 'test' } })
      .register(claude)
      .register(codex)
      .register(amp);
    expect(registry.metadata).toEqual({ owner: 'test' });
    expect(registry.filterByProvider('openai').map((manifest) => manifest.name)).toEqual(['codex']);
    expect(registry.filterByCapability('code_execution').map((manifest) => manifest.name)).toEqual([
      'claude',
      'codex',
    ]);
    expect(registry.filterByCapability('network_access')).toEqual([]); // web is disabled everywhere
  });
});
