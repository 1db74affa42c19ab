// The AWS SDK for JavaScript v3's side of `make bench-peers`: the same work as
// `dynox bench`, written the way an SDK user would write it, with the document
// client (@aws-sdk/lib-dynamodb) and --concurrency promises in flight.
//
//   put            BatchWriteCommand, 25 items each, UnprocessedItems re-sent
//   update_by_key  UpdateCommand, SET of the nine non-key attributes
//   delete_by_key  BatchWriteCommand deletes
//
// Items are those of dynox's built-in bench model (id + nine attributes,
// about 150 bytes). Set-up and clean-up happen outside the handshake: with
// --handshake the program prints "ready", waits for a line on stdin, does
// the measured work, prints "done", waits for another line, and prints
// "result {json}".
import { readSync } from "node:fs";
import { Agent } from "node:http";
import { randomInt } from "node:crypto";
import { createRequire } from "node:module";
import {
  DynamoDBClient,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  BatchWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";

const require = createRequire(import.meta.url);
const sdkVersion = require("@aws-sdk/client-dynamodb/package.json").version;

function parseArgs(argv) {
  const a = { concurrency: 32, itemBytes: 0, keep: false, handshake: false };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === "--endpoint") { a.endpoint = v; i++; }
    else if (k === "--table") { a.table = v; i++; }
    else if (k === "--op") { a.op = v; i++; }
    else if (k === "--items") { a.items = Number(v); i++; }
    else if (k === "--concurrency") { a.concurrency = Number(v); i++; }
    else if (k === "--item-bytes") { a.itemBytes = Number(v); i++; }
    else if (k === "--keep") a.keep = true;
    else if (k === "--handshake") a.handshake = true;
    else { console.error(`peer_js: unknown argument ${k}`); process.exit(2); }
  }
  return a;
}

const M64 = (1n << 64n) - 1n;
function mix(x) {
  x &= M64;
  x ^= x >> 30n; x = (x * 0xbf58476d1ce4e5b9n) & M64;
  x ^= x >> 27n; x = (x * 0x94d049bb133111ebn) & M64;
  x ^= x >> 31n;
  return x;
}
const COUNTRIES = ["DE", "FR", "US", "JP", "BR", "IN", "GB", "NG"];
const PLANS = ["free", "standard", "premium", "business"];
const pad7 = (n) => String(n).padStart(7, "0");

function attrs(i, version, pad) {
  const h = mix(BigInt(i) * 0x9e3779b97f4a7c15n + BigInt(version));
  const secs = 1700000000 + Number((h >> 12n) % 50000000n);
  const iso = new Date(secs * 1000).toISOString().slice(0, 19);
  return {
    name: "user-" + pad7(i % 10000000) + "x".repeat(pad),
    email: "user" + pad7(Number((h >> 8n) % 10000000n)) + "@example.com",
    age: 18 + Number(h % 70n),
    score: Number((h >> 16n) % 100000n) + Number((h >> 40n) % 100n) / 100,
    active: Boolean((h >> 3n) & 1n),
    country: COUNTRIES[Number((h >> 5n) % 8n)],
    plan: PLANS[Number((h >> 9n) % 4n)],
    created_at: iso + "." + String(Number(h % 1000n)).padStart(3, "0") + "Z",
    version: version + 1,
  };
}

const keyOf = (tag, i) => ({ id: `bench-${tag}-${String(i).padStart(10, "0")}` });
const itemOf = (tag, i, version, pad) => ({ ...keyOf(tag, i), ...attrs(i, version, pad) });

function handshake(enabled, word) {
  if (!enabled) return;
  process.stdout.write(word + "\n");
  const buf = Buffer.alloc(64);
  for (;;) {
    let n;
    try { n = readSync(0, buf, 0, 64, null); } catch (e) { if (e.code === "EAGAIN") continue; throw e; }
    if (n <= 0) process.exit(3);
    if (buf.subarray(0, n).includes(10)) return;
  }
}

// Runs worker(i) for i in [0, n) with at most `limit` promises in flight.
async function pool(n, limit, worker) {
  let next = 0;
  const errors = [];
  async function lane() {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      try { await worker(i); } catch (e) { errors.push(String(e)); }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane));
  return errors;
}

async function batchWrite(doc, table, requests) {
  let pending = requests;
  for (let attempt = 0; pending.length; attempt++) {
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
    pending = (out.UnprocessedItems && out.UnprocessedItems[table]) || [];
    if (pending.length) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
  }
}

async function main() {
  const a = parseArgs(process.argv);
  const client = new DynamoDBClient({
    endpoint: a.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "y" },
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: a.concurrency }) },
  });
  const doc = DynamoDBDocumentClient.from(client);
  const tag = String(randomInt(100000, 1000000));
  const pad = a.itemBytes ? Math.max(0, a.itemBytes - 154) : 0;

  let created = false;
  try {
    await client.send(new DescribeTableCommand({ TableName: a.table }));
  } catch (e) {
    if (e.name !== "ResourceNotFoundException") throw e;
    await client.send(new CreateTableCommand({
      TableName: a.table,
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }));
    created = true;
    for (let i = 0; i < 600; i++) {
      const d = await client.send(new DescribeTableCommand({ TableName: a.table }));
      if (d.Table.TableStatus === "ACTIVE") break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const batches = Math.ceil(a.items / 25);
  const batchOf = (b, make) => {
    const reqs = [];
    for (let i = b * 25; i < Math.min(a.items, b * 25 + 25); i++) reqs.push(make(i));
    return reqs;
  };
  if (a.op !== "put") {
    const errs = await pool(batches, 16, (b) =>
      batchWrite(doc, a.table, batchOf(b, (i) => ({ PutRequest: { Item: itemOf(tag, i, 0, pad) } }))));
    if (errs.length) { console.error(`loading failed: ${errs[0]}`); process.exit(3); }
  }
  const names = {};
  Object.keys(attrs(0, 0, 0)).forEach((n, k) => { names[`#a${k}`] = n; });
  const expr = "SET " + Object.keys(names).map((_, k) => `#a${k} = :v${k}`).join(", ");

  let work;
  if (a.op === "put") {
    work = () => pool(batches, a.concurrency, (b) =>
      batchWrite(doc, a.table, batchOf(b, (i) => ({ PutRequest: { Item: itemOf(tag, i, 0, pad) } }))));
  } else if (a.op === "delete_by_key") {
    work = () => pool(batches, a.concurrency, (b) =>
      batchWrite(doc, a.table, batchOf(b, (i) => ({ DeleteRequest: { Key: keyOf(tag, i) } }))));
  } else if (a.op === "update_by_key") {
    work = () => pool(a.items, a.concurrency, (i) => {
      const vals = {};
      Object.values(attrs(i, 1, pad)).forEach((v, k) => { vals[`:v${k}`] = v; });
      return doc.send(new UpdateCommand({
        TableName: a.table, Key: keyOf(tag, i), UpdateExpression: expr,
        ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
      }));
    });
  } else {
    console.error(`peer_js: unknown --op ${a.op}`);
    process.exit(2);
  }
  handshake(a.handshake, "ready");
  const t0 = process.hrtime.bigint();
  const errs = await work();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  handshake(a.handshake, "done");
  if (created && !a.keep) {
    try { await client.send(new DeleteTableCommand({ TableName: a.table })); } catch { /* gone */ }
  }
  process.stdout.write("result " + JSON.stringify({
    client: "js", op: a.op, items: a.items, seconds: secs, errors: errs.slice(0, 3),
    sdk: sdkVersion, node: process.version,
  }) + "\n");
  process.exit(errs.length ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(3); });
