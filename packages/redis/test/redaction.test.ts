import { SECRET_SAMPLES, testRedaction } from '@asm/testing';
import { afterAll, expect, it } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { adminClient, keysUnder, REDIS_URL, randomPrefix, removePrefix } from './helpers.js';

const prefix = randomPrefix();
const admin = adminClient();
afterAll(async () => {
  await removePrefix(admin, prefix);
  await admin.quit();
});

testRedaction({ name: 'Redis', create: () => createRedisStore({ url: REDIS_URL, keyPrefix: prefix }) });

it('no key under the prefix holds a secret', async () => {
  const dump: string[] = [];
  for (const key of await keysUnder(admin, prefix)) {
    const type = await admin.type(key);
    if (type === 'string') dump.push((await admin.get(key)) ?? '');
    else if (type === 'hash') dump.push(JSON.stringify(await admin.hgetall(key)));
    else if (type === 'stream') dump.push(JSON.stringify(await admin.xrange(key, '-', '+')));
    else if (type === 'zset') dump.push(JSON.stringify(await admin.zrange(key, '0', '-1')));
    else if (type === 'set') dump.push(JSON.stringify(await admin.smembers(key)));
  }
  const text = dump.join('\n');
  expect(text.length).toBeGreaterThan(0);
  for (const [category, , secret] of SECRET_SAMPLES)
    expect(text.includes(secret), `${category} in Redis`).toBe(false);
});
