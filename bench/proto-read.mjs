import pg from 'pg';
const pool = new pg.Pool({ connectionString: process.env.P, max: 4 });
const COLS = `sequence_number::text AS sequence_number, event_type, floor(extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_at_ms, payload::text AS payload, metadata::text AS metadata`;
const decode = (rows) => rows.map((r) => ({ s: BigInt(r.sequence_number), t: r.event_type, o: new Date(Number(r.occurred_at_ms)), p: JSON.parse(r.payload), m: JSON.parse(r.metadata) }));
const lit = (a) => `{${a.map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
const mech = {
  raw: async (b) => (await pool.query('SELECT * FROM pt WHERE payload @> $1::jsonb ORDER BY sequence_number', [JSON.stringify({ BookID: b })])).rows,
  same: async (b) => decode((await pool.query(`SELECT ${COLS} FROM pt WHERE payload @> $1::text::jsonb ORDER BY sequence_number`, [JSON.stringify({ BookID: b })])).rows),
  strong: async (b) => decode((await pool.query(`SELECT sequence_number, event_type, occurred_at_ms, payload, metadata FROM pt_read($1::text::text[], $2, $3::text::text[])`, [lit([`p:BookID:s${b}`]), `SELECT ${COLS} FROM pt WHERE payload @> $1[1]::jsonb AND sequence_number <= $2 ORDER BY sequence_number`, lit([JSON.stringify({ BookID: b })])])).rows),
  strongNamed: async (b) => decode((await pool.query({name: 'sr', text: `SELECT sequence_number, event_type, occurred_at_ms, payload, metadata FROM pt_read($1::text::text[], $2, $3::text::text[])`, values: [lit([`p:BookID:s${b}`]), `SELECT ${COLS} FROM pt WHERE payload @> $1[1]::jsonb AND sequence_number <= $2 ORDER BY sequence_number`, lit([JSON.stringify({ BookID: b })])]})).rows),
  two: async (b) => { const c = (await pool.query('SELECT pt_barrier($1::text::text[])::text AS c', [lit([`p:BookID:s${b}`])])).rows[0].c; return decode((await pool.query(`SELECT ${COLS} FROM pt WHERE payload @> $1::text::jsonb AND pt.sequence_number <= $2::text::bigint ORDER BY pt.sequence_number`, [JSON.stringify({ BookID: b }), c])).rows); },
  twoNamed: async (b) => { const c = (await pool.query({name: 'bar', text: 'SELECT pt_barrier($1::text::text[])::text AS c', values: [lit([`p:BookID:s${b}`])]})).rows[0].c; return decode((await pool.query(`SELECT ${COLS} FROM pt WHERE payload @> $1::text::jsonb AND pt.sequence_number <= $2::text::bigint ORDER BY pt.sequence_number`, [JSON.stringify({ BookID: b }), c])).rows); },
  nosub: async (b) => decode((await pool.query(`SELECT sequence_number, event_type, occurred_at_ms, payload, metadata FROM pt_read_nosub($1::text::text[], $2, $3::text::text[])`, [lit([`p:BookID:s${b}`]), `SELECT ${COLS} FROM pt WHERE payload @> $1[1]::jsonb AND sequence_number <= $2 ORDER BY sequence_number`, lit([JSON.stringify({ BookID: b })])])).rows),
  min: async (b) => decode((await pool.query(`SELECT sequence_number, event_type, occurred_at_ms, payload, metadata FROM pt_read_min($1::text::text[], $2, $3::text::text[])`, [lit([`p:BookID:s${b}`]), `SELECT ${COLS} FROM pt WHERE payload @> $1[1]::jsonb AND sequence_number <= $2 ORDER BY sequence_number`, lit([JSON.stringify({ BookID: b })])])).rows),
};
const names = Object.keys(mech);
const res = {};
const only = (process.env.M ?? '').split(',').filter(Boolean); if (only.length) for (const k of Object.keys(mech)) if (!only.includes(k)) delete mech[k];
const names2 = Object.keys(mech);
for (let round = 0; round < 5; round++) {
  for (const name of names2.map((_, i) => names2[(i + round) % names2.length])) {
    const times = [];
    for (let i = 0; i < 1500; i++) {
      const b = `b-${1 + Math.floor(Math.random() * 19990)}`;
      const t = performance.now(); const rows = await mech[name](b); times.push(performance.now() - t);
      if (rows.length !== 10) throw new Error(`${name} ${rows.length}`);
    }
    times.sort((a, b) => a - b);
    (res[name] ??= []).push(times[times.length >> 1].toFixed(3));
  }
}
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(8), v.join(' '));
await pool.end();
