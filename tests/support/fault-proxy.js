#!/usr/bin/env node
// fault-proxy.js - a DynamoDB endpoint for tests that sits in front of a real
// one (dynalite) and injects the faults dynalite never produces on its own,
// on a seeded random schedule:
//
//   throttle  400 ProvisionedThroughputExceededException or ThrottlingException
//             (alternating), request not forwarded
//   error5xx  500 InternalServerError or 503 ServiceUnavailable, not forwarded
//   reset     the client connection is reset (TCP RST) before forwarding
//   drop      the request IS forwarded and performed, then the client
//             connection is reset instead of answering (the response is lost)
//   slow      forwarded, the answer is held back for --slow-ms
//   hang      forwarded, the answer is held back for --hang-ms (meant to be
//             longer than the client's timeout)
//   badcrc    forwarded, answered with a wrong x-amz-crc32
//   partial   BatchWriteItem / BatchGetItem only: a random part of the
//             request's entries is held back, the rest is forwarded, and the
//             held-back entries are added to the response's UnprocessedItems /
//             UnprocessedKeys, exactly as DynamoDB reports work it did not do
//
// At most one fault per request; the rates are probabilities that are tried
// in the order above. Everything else is forwarded untouched (headers, body,
// status), over keep-alive connections to the target.
//
// Usage: node fault-proxy.js --target http://127.0.0.1:PORT [--port 0]
//          [--seed 1] [--throttle 0.05] [--error5xx 0.03] [--reset 0.02]
//          [--drop 0.02] [--slow 0.02] [--slow-ms 200] [--hang 0]
//          [--hang-ms 3000] [--badcrc 0.02] [--partial 0.3]
// Prints "LISTENING <port>" on stdout once it accepts connections.
// GET /__stats answers the counts of each fault as JSON (unsigned, for tests).
// It exits when stdin reaches end of file (its parent died or closed the pipe),
// on SIGTERM/SIGINT, and never outlives the test that started it.
//
// Must never: listen beyond 127.0.0.1, forward anywhere but --target, or
// alter an item (only whole entries are held back).
'use strict';

const http = require('http');
const zlib = require('zlib');

function parseArgs(argv) {
  const o = {
    target: null, port: 0, seed: 1, throttle: 0, error5xx: 0, reset: 0, drop: 0, slow: 0,
    'slow-ms': 200, hang: 0, 'hang-ms': 3000, badcrc: 0, partial: 0,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o) || i + 1 >= argv.length) {
      process.stderr.write(`fault-proxy: unknown or incomplete option ${argv[i]}\n`);
      process.exit(2);
    }
    o[k] = k === 'target' ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!o.target) {
    process.stderr.write('fault-proxy: --target http://host:port is required\n');
    process.exit(2);
  }
  return o;
}

const opt = parseArgs(process.argv);
const target = new URL(opt.target);

// mulberry32: small, seeded, good enough for a fault schedule.
let rngState = (opt.seed >>> 0) || 1;
function rand() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const stats = {
  requests: 0, forwarded: 0, throttle: 0, error5xx: 0, reset: 0, drop: 0, slow: 0, hang: 0,
  badcrc: 0, partial: 0, partial_entries: 0, upstream_errors: 0,
};

// x-amz-crc32 is the CRC32 of the body bytes, as a decimal number.
function crc32(buf) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(buf) >>> 0;
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

let ids = 0;
function answer(res, status, obj, opts = {}) {
  const body = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  let crc = crc32(body);
  if (opts.badcrc) crc = (crc ^ 0x5a5a) >>> 0;
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': body.length,
    'x-amzn-RequestId': opts.requestId || `FAULTPROXY${++ids}`,
    'x-amz-crc32': String(crc),
  });
  res.end(body);
}

function resetClient(req) {
  const s = req.socket;
  if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else s.destroy();
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

// Forwards body (a Buffer) with the client's headers; calls done(status, headers, bodyBuffer).
function forward(req, body, done) {
  const headers = { ...req.headers, 'content-length': String(body.length) };
  const up = http.request({
    host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent,
  }, (ures) => {
    const parts = [];
    ures.on('data', (d) => parts.push(d));
    ures.on('end', () => done(ures.statusCode, ures.headers, Buffer.concat(parts)));
    ures.on('error', () => done(0, {}, Buffer.alloc(0)));
  });
  up.on('error', () => done(0, {}, Buffer.alloc(0)));
  up.end(body);
}

// Splits a batch request: returns {send, held} where held are the entries to
// report as unprocessed, or null when the request is not a batch we can split.
function splitBatch(op, doc) {
  if (!doc || typeof doc.RequestItems !== 'object') return null;
  const tables = Object.keys(doc.RequestItems);
  if (tables.length !== 1) return null;
  const t = tables[0];
  const entries = op === 'BatchWriteItem' ? doc.RequestItems[t] : doc.RequestItems[t].Keys;
  if (!Array.isArray(entries) || entries.length === 0) return null;
  // Hold back a random, non-empty part (sometimes everything).
  const keep = [];
  const held = [];
  for (const e of entries) (rand() < 0.5 ? held : keep).push(e);
  if (held.length === 0) held.push(keep.pop());
  const send = JSON.parse(JSON.stringify(doc));
  if (op === 'BatchWriteItem') send.RequestItems[t] = keep;
  else send.RequestItems[t].Keys = keep;
  return { table: t, send, held, sendNothing: keep.length === 0 };
}

function mergeUnprocessed(op, split, reqDoc, respDoc) {
  const t = split.table;
  if (op === 'BatchWriteItem') {
    respDoc.UnprocessedItems = respDoc.UnprocessedItems || {};
    respDoc.UnprocessedItems[t] = (respDoc.UnprocessedItems[t] || []).concat(split.held);
  } else {
    respDoc.UnprocessedKeys = respDoc.UnprocessedKeys || {};
    const cur = respDoc.UnprocessedKeys[t];
    const entry = { ...reqDoc.RequestItems[t] };
    entry.Keys = (cur && cur.Keys ? cur.Keys : []).concat(split.held);
    respDoc.UnprocessedKeys[t] = entry;
  }
  return respDoc;
}

function pick() {
  const order = ['throttle', 'error5xx', 'reset', 'drop', 'slow', 'hang', 'badcrc', 'partial'];
  for (const k of order) if (opt[k] > 0 && rand() < opt[k]) return k;
  return null;
}

const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/__stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    stats.requests++;
    const body = Buffer.concat(parts);
    const targetHdr = String(req.headers['x-amz-target'] || '');
    const op = targetHdr.slice(targetHdr.indexOf('.') + 1);
    let fault = pick();
    let split = null;
    let reqDoc = null;
    if (fault === 'partial') {
      if (op === 'BatchWriteItem' || op === 'BatchGetItem') {
        try { reqDoc = JSON.parse(body.toString('utf8')); } catch (e) { reqDoc = null; }
        split = splitBatch(op, reqDoc);
      }
      if (!split) fault = null;
    }
    if (fault) stats[fault]++;
    switch (fault) {
      case 'throttle':
        return answer(res, 400, stats.throttle % 2
          ? { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
              message: 'The level of configured provisioned throughput for the table was exceeded.' }
          : { __type: 'com.amazon.coral.availability#ThrottlingException',
              message: 'Rate of requests exceeds the allowed throughput.' });
      case 'error5xx':
        return stats.error5xx % 2
          ? answer(res, 500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
                               message: 'Internal server error' })
          : answer(res, 503, { __type: 'com.amazon.coral.availability#ServiceUnavailable',
                               message: 'Service unavailable' });
      case 'reset':
        return resetClient(req);
      case 'partial': {
        stats.partial_entries += split.held.length;
        if (split.sendNothing) {
          const doc = mergeUnprocessed(op, split, reqDoc,
            op === 'BatchWriteItem' ? { UnprocessedItems: {} } : { Responses: {}, UnprocessedKeys: {} });
          return answer(res, 200, doc);
        }
        stats.forwarded++;
        return forward(req, Buffer.from(JSON.stringify(split.send)), (status, headers, rbody) => {
          if (status !== 200) {
            if (status === 0) { stats.upstream_errors++; return resetClient(req); }
            return answer(res, status, rbody.toString('utf8'), { requestId: headers['x-amzn-requestid'] });
          }
          let doc;
          try { doc = JSON.parse(rbody.toString('utf8')); } catch (e) { return resetClient(req); }
          answer(res, 200, mergeUnprocessed(op, split, reqDoc, doc),
            { requestId: headers['x-amzn-requestid'] });
        });
      }
      default:
        break;
    }
    stats.forwarded++;
    forward(req, body, (status, headers, rbody) => {
      if (status === 0) { stats.upstream_errors++; return resetClient(req); }
      if (fault === 'drop') return resetClient(req);
      const send = () => {
        if (req.socket.destroyed) return;
        const h = { ...headers };
        delete h['transfer-encoding'];
        h['content-length'] = String(rbody.length);
        if (fault === 'badcrc') h['x-amz-crc32'] = String((crc32(rbody) ^ 0x5a5a) >>> 0);
        res.writeHead(status, h);
        res.end(rbody);
      };
      if (fault === 'slow') setTimeout(send, opt['slow-ms']);
      else if (fault === 'hang') setTimeout(send, opt['hang-ms']);
      else send();
    });
  });
});

server.keepAliveTimeout = 5000; // as dynalite
server.listen(opt.port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

function stop() {
  server.close();
  agent.destroy();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
