// Which client an unknown API key is counted against (src/http/auth.ts): IPv4 addresses alone, IPv6
// addresses by their /64, whatever way the address is written (RFC 4291 §2.2, RFC 5952).
import { describe, expect, it } from 'vitest';
import { failureKey } from '../../src/http/auth.js';

describe('failureKey', () => {
  it('keeps an IPv4 address, also when it arrives IPv4-mapped', () => {
    expect(failureKey('192.0.2.1')).toBe('192.0.2.1');
    expect(failureKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(failureKey('::FFFF:192.0.2.1')).toBe('192.0.2.1');
  });

  it('counts every address of one IPv6 /64 together, however it is written', () => {
    const same = [
      '2001:db8:0:7::1',
      '2001:DB8:0:7:0:0:0:1',
      '2001:0db8:0000:0007:ffff:ffff:ffff:ffff',
      '2001:db8:0:7:a:b:c:d',
      '2001:db8:0:7:1::',
      '2001:db8:0:7:0:0:192.0.2.1',
      'fe80::1%eth0'.replace('fe80::1', '2001:db8:0:7::9'),
    ];
    expect(new Set(same.map(failureKey))).toEqual(new Set(['2001:db8:0:7::/64']));
  });

  it('keeps different /64s apart', () => {
    const keys = ['2001:db8:0:7::1', '2001:db8:0:8::1', '2001:db8:1:7::1', '2001:db9:0:7::1', '::1', '::'].map(failureKey);
    expect(new Set(keys).size).toBe(5); // '::1' and '::' share the all-zero /64
    expect(failureKey('::1')).toBe('0:0:0:0::/64');
    expect(failureKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('leaves anything that is not an IP address as it is', () => {
    expect(failureKey('unknown')).toBe('unknown');
    expect(failureKey('')).toBe('');
    expect(failureKey(undefined)).toBe(''); // request.ip of a client already gone
  });
});
