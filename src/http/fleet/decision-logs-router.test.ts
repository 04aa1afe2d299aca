import { once } from 'node:events';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { describe, expect, onTestFinished, test } from 'vitest';
import { silentLogger } from '../../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../../test/helpers/temp-dir.js';
import { FileDecisionLog } from '../../storage/decisions/file-decision-log.js';
import { createErrorHandler } from '../error-handler.js';
import { agentReportAuth } from './agent-report-auth.js';
import { createDecisionLogsRouter, type DecisionBatchOutcome } from './decision-logs-router.js';

const batch = gzipSync(JSON.stringify([{ labels: { id: 'agent-1' }, decision_id: 'd1', path: 'rbac/allow', result: true, timestamp: '2026-12-01T10:00:00Z' }]));

async function serve(options: { acceptWithoutToken: boolean; maxConcurrentBatches?: number; maxQueuedBatches?: number; maxQueueWaitMs?: number; bodyTimeoutMs?: number }) {
  const store = await FileDecisionLog.open({ dir: tempDirForTest(), segmentBytes: 1 << 20, maxBytes: 1 << 30, maxAgeMs: 86_400_000, maxEventBytes: 1 << 16, maxScanBytesPerQuery: 1 << 30, maxPageBytes: 1 << 23, logger: silentLogger() });
  onTestFinished(() => store.close());
  const outcomes: DecisionBatchOutcome[] = [];
  const app = express();
  app.use(createDecisionLogsRouter({
    recorder: store, authenticate: agentReportAuth({ acceptWithoutToken: options.acceptWithoutToken }), onBatch: (outcome) => outcomes.push(outcome),
    limits: { maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 22, maxEventsPerBatch: 100, maxValuesPerBatch: 100_000, maxConcurrentBatches: options.maxConcurrentBatches ?? 4, maxQueuedBatches: options.maxQueuedBatches ?? 0, maxQueueWaitMs: options.maxQueueWaitMs ?? 1000, maxJsonDepth: 100, bodyTimeoutMs: options.bodyTimeoutMs ?? 10_000 },
  }));
  app.use(createErrorHandler(silentLogger()));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => new Promise<void>((done) => server.close(() => done())));
  return { store, outcomes, port: (server.address() as AddressInfo).port };
}

describe('POST /logs', () => {
  test('outside development mode, without a report token configured, batches are refused and nothing is stored', async () => {
    const { store, port } = await serve({ acceptWithoutToken: false });
    const response = await fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'fleet_reports_disabled' });
    expect(store.stats().records).toBe(0);
  });

  test('beyond maxConcurrentBatches bodies being read and no room to wait, a batch gets 503 decision_logs_busy with Retry-After, and the one being read is stored', async () => {
    const { store, outcomes, port } = await serve({ acceptWithoutToken: true, maxConcurrentBatches: 1 });
    // A slow sender: headers and half the body, the rest later.
    const slow = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Encoding': 'gzip', 'Content-Length': batch.length } });
    const slowAnswer = new Promise<number>((resolve) => slow.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }));
    slow.write(batch.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const busy = await fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(await busy.json()).toMatchObject({ code: 'decision_logs_busy' });
    slow.end(batch.subarray(10));
    expect(await slowAnswer).toBe(204);
    expect(store.stats().records).toBe(1);
    expect(outcomes.map((outcome) => outcome.code)).toEqual(['decision_logs_busy', 'accepted']);
  });

  test('a sender that goes away mid-body frees its slot and stores nothing', async () => {
    const { store, outcomes, port } = await serve({ acceptWithoutToken: true, maxConcurrentBatches: 1 });
    const gone = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Encoding': 'gzip', 'Content-Length': batch.length } });
    gone.on('error', () => undefined);
    gone.write(batch.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    gone.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
    expect(next.status).toBe(204);
    expect(store.stats().records).toBe(1);
    expect(outcomes.map((outcome) => outcome.code)).toEqual(['request_aborted', 'accepted']);
  });

  test('a batch waits for a slot in the queue and is stored once one frees; one that waits too long gets 503', async () => {
    const { store, outcomes, port } = await serve({ acceptWithoutToken: true, maxConcurrentBatches: 1, maxQueuedBatches: 1, maxQueueWaitMs: 1500 });
    const slow = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Encoding': 'gzip', 'Content-Length': batch.length } });
    const slowAnswer = new Promise<number>((resolve) => slow.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }));
    slow.write(batch.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const queued = fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The queue (1) is full: refused at once.
    expect((await fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch })).status).toBe(503);
    slow.end(batch.subarray(10));
    expect(await slowAnswer).toBe(204);
    expect((await queued).status).toBe(204);
    expect(store.stats().records).toBe(2);
    // A slot held past the wait: the waiting batch gives up with 503.
    const stuck = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Encoding': 'gzip', 'Content-Length': batch.length } });
    stuck.on('error', () => undefined);
    stuck.write(batch.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const gaveUp = await fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
    expect(gaveUp.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    stuck.destroy();
    expect(outcomes.map((outcome) => outcome.code)).toEqual(['decision_logs_busy', 'accepted', 'accepted', 'decision_logs_busy']);
  });

  test('batches whose clients go away while they wait for a slot never take one: an honest batch afterwards is stored', async () => {
    const { store, outcomes, port } = await serve({ acceptWithoutToken: true, maxConcurrentBatches: 1, maxQueuedBatches: 4, maxQueueWaitMs: 3000 });
    const holder = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Encoding': 'gzip', 'Content-Length': batch.length } });
    const holderAnswer = new Promise<number>((resolve) => holder.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }));
    holder.write(batch.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Four batches queue behind the holder and their clients go away before a slot frees.
    const quitters = Array.from({ length: 4 }, () => {
      const quitter = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Encoding': 'gzip', 'Content-Length': batch.length } });
      quitter.on('error', () => undefined);
      quitter.write(batch.subarray(0, 1));
      return quitter;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const quitter of quitters) quitter.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    holder.end(batch.subarray(10));
    expect(await holderAnswer).toBe(204);
    const honest = await fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
    expect(honest.status).toBe(204);
    expect(store.stats().records).toBe(2);
    expect(outcomes.map((outcome) => outcome.code)).toEqual(['request_aborted', 'request_aborted', 'request_aborted', 'request_aborted', 'accepted', 'accepted']);
  });

  test('a sender that trickles its body is cut off at bodyTimeoutMs with 408 body_timeout and a closed connection, and its slot serves the next batch', async () => {
    const { store, outcomes, port } = await serve({ acceptWithoutToken: true, maxConcurrentBatches: 1, bodyTimeoutMs: 800 });
    // One byte every 100 ms of a declared 1000: it would take 100 s.
    const slow = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Type': 'application/json', 'Content-Length': 1000 } });
    slow.on('error', () => undefined);
    const socketClosed = new Promise((resolve) => slow.on('socket', (socket) => socket.once('close', resolve)));
    slow.write('[');
    const trickle = setInterval(() => {
      if (!slow.destroyed) slow.write(' ');
    }, 100);
    onTestFinished(() => clearInterval(trickle));
    const answered = new Promise<{ status: number; connection: string | undefined; code: string }>((resolve) => slow.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, code: (JSON.parse(Buffer.concat(chunks).toString()) as { code: string }).code }));
    }));
    const started = Date.now();
    const answer = await answered;
    expect(answer).toMatchObject({ status: 408, connection: 'close', code: 'body_timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    // The server closed the connection: the rest of the body is never read.
    await socketClosed;
    const next = await fetch(`http://127.0.0.1:${port}/logs`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
    expect(next.status).toBe(204);
    expect(store.stats().records).toBe(1);
    expect(outcomes.map((outcome) => outcome.code)).toEqual(['body_timeout', 'accepted']);
  });

  test('a partition with an escaped slash is checked segment by segment: a%2F..%2Fb is refused and stores nothing', async () => {
    const { store, port } = await serve({ acceptWithoutToken: true });
    for (const path of ['/logs/a%2F..%2Fb', '/logs/a%2F.%2Fb', '/logs/a/b%2F..']) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch });
      expect.soft(response.status, path).toBe(400);
      expect.soft(await response.json(), path).toMatchObject({ code: 'invalid_decision_batch', field: 'partition' });
    }
    expect(store.stats().records).toBe(0);
    expect((await fetch(`http://127.0.0.1:${port}/logs/eu%2Fwest`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: batch })).status).toBe(204);
    expect((await store.query({ limit: 1 })).records[0]).toMatchObject({ partition: 'eu/west' });
  });
});
