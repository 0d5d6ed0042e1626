import { DatabaseUnavailable, query } from "~/lib/db.server";

/** The analytics service's health: the database answers and holds the dashboard's tiles. */
export async function loader() {
  try {
    const [row] = await query<{ up: number; tiles: number }>(
      "select 1 as up, (select count(*) from public.dashboard_tiles)::int as tiles",
    );
    return Response.json({ status: row?.up === 1 ? "ok" : "error", service: "analytics", tiles: row?.tiles ?? 0 });
  } catch (error) {
    if (!(error instanceof DatabaseUnavailable)) throw error;
    return Response.json({ status: "error", error: error.message }, { status: 503 });
  }
}
