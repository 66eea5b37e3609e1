import pg from 'pg';
import { fromPgPool } from '@es/pg';
import { buildEventFilter, buildStorableEvent, P } from '@es/core';
const url = process.env.P;
const pool = new pg.Pool({ connectionString: url, max: 20 });
const SECONDS = Number(process.env.S ?? 4);
const WRITERS = Number(process.env.W ?? 16);
const T = 'BookCopyLentToReader';
const payload = (b) => ({ BookID: b, ReaderID: `reader-${Math.floor(Math.random() * 1000)}` });

const store = fromPgPool(pool, { tableName: 'pes' });
await store.migrate();

const mech = {
  plain: async (b) => {
    const { rows } = await pool.query('INSERT INTO pt (event_type, occurred_at, payload) VALUES ($1, now(), $2::jsonb) RETURNING sequence_number::text AS s', [T, JSON.stringify(payload(b))]);
    return BigInt(rows[0].s);
  },
  go: async (b, known) => {
    const where = `event_type = $1 AND payload @> $2::jsonb`;
    const { rows } = await pool.query(
      `WITH context AS (SELECT coalesce(max(sequence_number), 0) AS max FROM pt WHERE ${where})
       INSERT INTO pt (event_type, occurred_at, payload) SELECT $1, now(), $3::jsonb FROM context WHERE max = $4::bigint RETURNING sequence_number::text AS s`,
      [T, JSON.stringify({ BookID: b }), JSON.stringify(payload(b)), known.toString()]);
    if (!rows[0]) throw new Error('go conflict');
    return BigInt(rows[0].s);
  },
  proto: async (b, known) => {
    const p = payload(b);
    const lit = (a) => `{${a.map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
    const excl = [`p:BookID=s${b}`];
    const shared = ['*', `t:${T}`, ...Object.entries(p).map(([k, v]) => `p:${k}=s${v}`)];
    const guard = 'SELECT coalesce((SELECT max(sequence_number) FROM (SELECT sequence_number FROM pt WHERE event_type = $1[1] AND payload @> $1[2]::jsonb OFFSET 0) AS m), 0)';
    const { rows } = await pool.query(
      'SELECT max_sequence_number::text AS m, sequence_numbers::text AS s FROM pt_append($1::text::text[], $2::text::text[], $3, $4::text::text[], $5::text::bigint, $6::text::jsonb)',
      [lit(excl), lit(shared), guard, lit([T, JSON.stringify({ BookID: b })]), known.toString(),
       JSON.stringify([{ type: T, occurredAt: new Date().toISOString(), payload: p, metadata: {} }])]);
    if (!rows[0].s) throw new Error('proto conflict');
    return BigInt(rows[0].s.slice(1, -1));
  },
  es: async (b, known) => {
    const f = buildEventFilter().matching().anyEventTypeOf(T).andAllPredicatesOf(P('BookID', b)).finalize();
    const e = buildStorableEvent({ type: T, occurredAt: new Date(), payload: payload(b) });
    const r = await store.append(undefined, f, known, e);
    return r.sequenceNumbers[0];
  },
};


const protoN = (fname, named) => async (b, known) => {
    const p = payload(b);
    const lit = (a) => `{${a.map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
    const excl = [`p:BookID=s${b}`];
    const shared = ['*', `t:${T}`, ...Object.entries(p).map(([k, v]) => `p:${k}=s${v}`)];
    const guard = 'SELECT coalesce((SELECT max(sequence_number) FROM (SELECT sequence_number FROM pt WHERE event_type = $1[1] AND payload @> $1[2]::jsonb OFFSET 0) AS m), 0)';
    const { rows } = await pool.query({ ...(named && { name: fname }),
      text: `SELECT r::text AS r FROM ${fname}($1::text::text[], $2::text::text[], $3, $4::text::text[], $5::text::bigint, $6::text::jsonb) AS r`,
      values: [lit(excl), lit(shared), guard, lit([T, JSON.stringify({ BookID: b })]), known.toString(),
       JSON.stringify([{ type: T, occurredAt: new Date().toISOString(), payload: p, metadata: {} }])]});
    const parts = rows[0].r.slice(1, -1).split(',');
    if (parts.length < 2) throw new Error('proto conflict');
    return BigInt(parts[1]);
};
mech.v2 = protoN('pt_append2'); mech.v3 = protoN('pt_append3'); mech.v4 = protoN('pt_append4'); mech.v2n = protoN('pt_append2', true);

async function throughput(name, run) {
  const fn = mech[name];
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    const known = new Map();
    let i = 0;
    while (performance.now() < end) { const b = `${name}-${run}-${w}-${i++ % 64}`; known.set(b, await fn(b, known.get(b) ?? 0n)); n++; }
  }));
  return n / SECONDS;
}
async function latency(name, run) {
  const fn = mech[name];
  const times = [];
  const known = new Map();
  for (let i = 0; i < 1500; i++) { const b = `${name}-seq-${run}-${i % 64}`; const t = performance.now(); known.set(b, await fn(b, known.get(b) ?? 0n)); times.push(performance.now() - t); }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
const names = (process.env.M ?? 'plain,go,proto,es').split(',');
const res = {};
for (let round = 0; round < 3; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const name of order) {
    const t = await throughput(name, round);
    const l = await latency(name, round);
    (res[name] ??= []).push([Math.round(t), l.toFixed(3)]);
  }
}
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(8), JSON.stringify(v));
await pool.end();
