import { createServer, type Server } from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import { planListen, reusePortSupport, type RegentListenOptions } from './listen-options.js';

describe('reusePortSupport', () => {
  test.each([
    ['20.11.0', false],
    ['20.20.2', false],
    ['22.11.0', false],
    ['22.12.0', true],
    ['23.0.0', false],
    ['23.1.0', true],
    ['24.0.0', true],
    ['24.22.3', true],
    ['v24.22.3', true],
    ['26.12.1', true],
  ])('Node %s on linux: supported = %s', (version, supported) => {
    expect(reusePortSupport(version, 'linux').supported).toBe(supported);
  });

  test('names the Node version and what it needs when the version is too old', () => {
    expect(reusePortSupport('20.20.2', 'linux')).toEqual({ supported: false, reason: 'Node 20.20.2 has no reusePort for server.listen (it needs 22.12+ or 23.1+)' });
  });

  test.each(['darwin', 'win32'])('says reusePort is not available on %s even on Node 24', (platform) => {
    expect(reusePortSupport('24.22.3', platform)).toEqual({ supported: false, reason: `reusePort is not available on ${platform}` });
  });

  test.each(['', 'twenty', '24'])('counts an unreadable version %j as unsupported', (version) => {
    expect(reusePortSupport(version, 'linux')).toEqual({ supported: false, reason: `cannot read the Node version '${version}'` });
  });
});

describe('planListen', () => {
  test('passes reusePort when asked on Node 24', () => {
    expect(planListen({ port: 8080, host: '0.0.0.0', reusePort: true }, reusePortSupport('24.22.3', 'linux'))).toEqual({
      options: { port: 8080, host: '0.0.0.0', reusePort: true },
      reusePort: true,
    });
  });

  test('leaves reusePort out on Node 20 and says why', () => {
    const plan = planListen({ port: 8080, host: '0.0.0.0', reusePort: true }, reusePortSupport('20.20.2', 'linux'));
    expect(plan.options).toEqual({ port: 8080, host: '0.0.0.0' });
    expect('reusePort' in plan.options).toBe(false);
    expect(plan.reusePort).toBe(false);
    expect(plan.unsupported).toBe('Node 20.20.2 has no reusePort for server.listen (it needs 22.12+ or 23.1+)');
  });

  test.each(['20.20.2', '24.22.3'])('on Node %s without reusePort asked: the plain port and host', (version) => {
    const plan = planListen({ port: 0, host: '127.0.0.1' }, reusePortSupport(version, 'linux'));
    expect(plan).toEqual({ options: { port: 0, host: '127.0.0.1' }, reusePort: false });
    expect('reusePort' in plan.options).toBe(false);
  });
});

function listen(options: RegentListenOptions): Promise<Server> {
  const server = createServer((socket) => socket.end());
  onTestFinished(() => new Promise<void>((done) => (server.listening ? server.close(() => done()) : done())));
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options, () => resolveListen(server));
  });
}

describe('two listeners on one port, on the Node running the tests', () => {
  test(`share the port where the plan says reusePort (Node ${process.versions.node}), else the second gets EADDRINUSE`, async () => {
    const plan = planListen({ port: 0, host: '127.0.0.1', reusePort: true });
    const first = await listen(plan.options);
    const { port } = first.address() as { port: number };
    const second = listen({ ...plan.options, port });
    if (plan.reusePort) {
      expect(((await second).address() as { port: number }).port).toBe(port);
    } else {
      expect(plan.unsupported).toMatch(/has no reusePort|not available/);
      await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE' });
    }
  });
});
