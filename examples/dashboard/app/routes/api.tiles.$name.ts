import { DatabaseUnavailable, tile } from "~/lib/db.server";
import { faults } from "~/lib/faults.server";
import type { Route } from "./+types/api.tiles.$name";

/** One tile's data, for the tiles the dashboard fills in the browser after hydration. */
export async function loader({ params }: Route.LoaderArgs) {
  if (params.name === faults.failing_fetch_tile) {
    return Response.json({ status: "error", error: "injected fault" }, { status: 500 });
  }
  try {
    const row = await tile(params.name);
    if (!row) return Response.json({ status: "error", error: "no such tile" }, { status: 404 });
    const value = faults.empty_tiles.includes(row.name) ? "" : row.value;
    return Response.json({ ...row, value });
  } catch (error) {
    if (!(error instanceof DatabaseUnavailable)) throw error;
    return Response.json({ status: "error", error: error.message }, { status: 503 });
  }
}
