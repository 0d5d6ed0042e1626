import { FetchedTile, Tile } from "~/components/Tile";
import { DatabaseUnavailable, tiles } from "~/lib/db.server";
import { release } from "~/lib/env.server";
import { faults } from "~/lib/faults.server";
import type { Route } from "./+types/dashboard";

// Tiles the browser fetches after hydration rather than the loader rendering them: the live
// campaigns count, and a tile whose fetch a fault breaks.
const FETCHED_IN_BROWSER = new Set(["campaigns", faults.failing_fetch_tile].filter(Boolean));

export function meta() {
  return [{ title: "Hot Dash" }];
}

type Tiles =
  | { kind: "loading" }
  | { kind: "error"; reason: string }
  | { kind: "tiles"; tiles: { name: string; label: string; value: string | null }[] };

/** The dashboard's tiles from public.dashboard_tiles; a null value is one the browser fetches. */
async function loadTiles(): Promise<Tiles> {
  if (faults.stuck_loading) return { kind: "loading" };
  try {
    const rows = await tiles();
    if (!rows.length) return { kind: "error", reason: "no tiles" };
    const shown = rows.map(({ name, label, value }) => ({
      name,
      label,
      value: FETCHED_IN_BROWSER.has(name) ? null : faults.empty_tiles.includes(name) ? "" : value,
    }));
    return { kind: "tiles", tiles: shown };
  } catch (error) {
    if (!(error instanceof DatabaseUnavailable)) throw error;
    return { kind: "error", reason: error.message };
  }
}

export async function loader() {
  const shown = await loadTiles();
  // What a client-rendered dashboard looks like when its data call never settles carries no extra HTML.
  return { release, tiles: shown, extraHtml: shown.kind === "loading" ? "" : faults.extra_html };
}

export default function Dashboard({ loaderData }: Route.ComponentProps) {
  const { release, tiles, extraHtml } = loaderData;
  return (
    <>
      <main className="dashboard" data-release={release}>
        <h1>Hot Dash</h1>
        <div className="tiles">
          {tiles.kind === "loading" && <p className="loading">Loading...</p>}
          {tiles.kind === "error" && <Tile name="dashboard" label="Data unavailable" value={tiles.reason} error />}
          {tiles.kind === "tiles" &&
            tiles.tiles.map((t) =>
              t.value === null ? (
                <FetchedTile key={t.name} name={t.name} label={t.label} />
              ) : (
                <Tile key={t.name} name={t.name} label={t.label} value={t.value} />
              ),
            )}
        </div>
      </main>
      {/* Server HTML only: a <script> in it runs once, as the page loads (a fault's console error). */}
      {extraHtml && <div className="extra" dangerouslySetInnerHTML={{ __html: extraHtml }} />}
    </>
  );
}
