import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrRange, pickSubnet, subnetsOverlap } from './docker-network.ts';

test('pickSubnet hands out the first free subnet of the pool', () => {
  assert.equal(pickSubnet('10.213.0.0/16', 24, []), '10.213.0.0/24');
  assert.equal(pickSubnet('10.213.0.0/16', 24, ['10.213.0.0/24', '10.213.1.0/24']), '10.213.2.0/24');
  assert.equal(pickSubnet('10.213.0.0/16', 28, ['10.213.0.0/28']), '10.213.0.16/28');
});

test('pickSubnet skips networks that overlap the pool, whatever their size', () => {
  assert.equal(pickSubnet('10.213.0.0/16', 24, ['10.213.0.0/23', '172.17.0.0/16']), '10.213.2.0/24');
  assert.equal(pickSubnet('10.213.0.0/16', 24, ['10.213.0.128/25']), '10.213.1.0/24');
  assert.equal(pickSubnet('10.213.0.0/16', 24, ['10.0.0.0/8']), null);
  assert.equal(pickSubnet('10.213.0.0/23', 24, ['10.213.0.0/24', '10.213.1.0/24']), null);
});

test('pickSubnet ignores IPv6 and refuses a prefix that does not fit', () => {
  assert.equal(pickSubnet('10.213.0.0/16', 24, ['fd00::/64']), '10.213.0.0/24');
  assert.throws(() => pickSubnet('10.213.0.0/16', 8, []), { code: 'JP_INPUT_INVALID' });
  assert.throws(() => pickSubnet('nope', 24, []), { code: 'JP_INPUT_INVALID' });
});

test('cidr helpers', () => {
  assert.deepEqual(cidrRange('10.0.0.5/24'), { first: 167772160, last: 167772415 });
  assert.equal(cidrRange('300.0.0.0/8'), null);
  assert.ok(subnetsOverlap('10.0.0.0/8', '10.213.4.0/24'));
  assert.ok(!subnetsOverlap('10.213.4.0/24', '10.213.5.0/24'));
});
