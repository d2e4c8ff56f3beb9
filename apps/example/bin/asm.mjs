#!/usr/bin/env node
// The `asm` executable: runs the CLI from its TypeScript sources (tsx), resolving the workspace
// packages to their sources too (the `@asm/source` export condition), so nothing needs building.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./source-condition.mjs', import.meta.url);
await import('../src/cli.ts');
