// The edges of the service: health, readiness, metrics, the OpenAPI document and the event stream.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';
import { parseMetrics } from '../../bench/service-metrics.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

describe('service edges', () => {
  test('health and readiness are open and answer', async () => {
    expect((await svc.request('GET', '/healthz', { key: null })).json).toEqual({ status: 'ok' });
    expect((await svc.request('GET', '/readyz', { key: null })).json).toEqual({ status: 'ready' });
  });

  test('OpenAPI 3.1 is generated from the routes', async () => {
    const r = await svc.request('GET', '/docs/json', { key: null });
    expect(r.status).toBe(200);
    expect(r.json['openapi']).toBe('3.1.0');
    const paths = Object.keys(r.json['paths'] as object);
    for (const p of ['/v1/links', '/v1/links/batch', '/v1/processes', '/v1/participants/{id}/keys/{keyId}/revoke', '/v1/maps/{process}/{mapId}', '/v1/events']) {
      expect(paths).toContain(p);
    }
  });

  test('metrics count accepted links and refusals by type', async () => {
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'metrics-1', ...VALID['order'] });
    await svc.request('POST', '/v1/links', { body: s.body });
    await svc.request('POST', '/v1/links', { body: { link: {}, signatures: [] } });
    const m = await svc.request('GET', '/metrics', { key: null });
    expect(m.status).toBe(200);
    expect(m.body).toMatch(/pop_links_accepted_total 1/);
    expect(m.body).toMatch(/pop_rejections_total\{type="malformed"\} [1-9]/);
    expect(m.body).toMatch(/pop_http_request_duration_seconds_bucket/);
    // The database's notification queue (the event stream's): a fraction, empty here.
    expect(parseMetrics(m.body).get('pop_event_queue_usage')).toBe(0);
  });

  test('the event stream announces accepted links', async () => {
    const url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${svc.adminKey}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'sse-1', ...VALID['order'] });
    const posted = svc.request('POST', '/v1/links', { body: s.body });
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes(s.hash)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    controller.abort();
    expect((await posted).status).toBe(201);
    expect(text).toContain('event: link.accepted');
    const data = JSON.parse(/data: (.*)/.exec(text.slice(text.indexOf('event: link.accepted')))![1]!) as Record<string, string>;
    expect(data).toMatchObject({ type: 'link.accepted', linkHash: s.hash, process: 'order-to-cash', mapId: 'sse-1', step: 'order', author: 'customer' });
    expect(text).not.toContain('Camille');
  });

  test('the event stream needs a key', async () => {
    expect((await svc.request('GET', '/v1/events', { key: null })).status).toBe(401);
  });
});
