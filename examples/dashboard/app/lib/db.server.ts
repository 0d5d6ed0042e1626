/** The dashboard's data, read from Postgres with the `pg` driver; DATABASE_URL names the database. */
import pg from "pg";

/** The database is not configured, not reachable, or not migrated; the message is safe to show. */
export class DatabaseUnavailable extends Error {}

export interface TileRow {
  name: string;
  label: string;
  value: string;
}

// A health check must answer well within the gate's budget.
const TIMEOUT_MS = 2000;
// SQLSTATE classes that mean "cannot reach or enter the database", not "the query is wrong".
const UNREACHABLE_CLASSES = ["08", "28", "3D", "53", "57"];

let pool: pg.Pool | undefined;

function connect(): pg.Pool {
  const url = process.env.DATABASE_URL;
  if (!url) throw new DatabaseUnavailable("database not configured");
  if (!pool) {
    pool = new pg.Pool({
      connectionString: url,
      connectionTimeoutMillis: TIMEOUT_MS,
      statement_timeout: TIMEOUT_MS,
      max: 4,
      idleTimeoutMillis: 10_000,
    });
    // An idle connection dropped by the server (a restart, a pooler) must not crash the instance.
    pool.on("error", () => undefined);
  }
  return pool;
}

/** Rows of one statement (a write commits: the pool runs it on its own); DatabaseUnavailable without ever revealing the URL. */
export async function query<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
  const db = connect();
  try {
    return (await db.query<Row>(text, values)).rows;
  } catch (error) {
    const queryFailed =
      error instanceof pg.DatabaseError && !UNREACHABLE_CLASSES.includes(String(error.code).slice(0, 2));
    throw new DatabaseUnavailable(queryFailed ? "database query failed" : "database unreachable");
  }
}

// The campaigns tile counts active campaigns live; the others are stored values.
const TILES = `
  select t.name, t.label,
    case when t.name = 'campaigns'
      then (select count(*) from public.ad_campaigns where status = 'active')::text
      else t.value end as value
  from public.dashboard_tiles t`;

/** Every dashboard tile, in position order. */
export function tiles(): Promise<TileRow[]> {
  return query<TileRow>(`${TILES} order by t.position, t.name`);
}

/** One tile by name, undefined when there is no such tile. */
export async function tile(name: string): Promise<TileRow | undefined> {
  return (await query<TileRow>(`${TILES} where t.name = $1`, [name]))[0];
}

/** Store one sign-up of the form at /signup. */
export async function storeSignup(email: string, name: string): Promise<void> {
  await query("insert into public.signups (email, name) values ($1, $2)", [email, name]);
}
