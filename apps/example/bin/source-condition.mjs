// Module resolution hook: resolves workspace packages to their TypeScript sources (the `@asm/source`
// export condition), as `node --conditions=@asm/source` would.
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes('@asm/source')
    ? context.conditions
    : [...context.conditions, '@asm/source'];
  return nextResolve(specifier, { ...context, conditions });
}
