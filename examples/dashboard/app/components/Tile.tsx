import { useEffect, useState } from "react";

/**
 * The tile DOM the browser gate reads: `[data-tile="<name>"]`, its `.tile__value`, and
 * `.tile--error` when the tile could not get its data.
 */
export function Tile(props: { name: string; label: string; value: string; error?: boolean; busy?: boolean }) {
  const classes = ["tile", props.error && "tile--error", props.busy && "tile--loading"].filter(Boolean).join(" ");
  return (
    <section className={classes} data-tile={props.name} aria-busy={props.busy || undefined}>
      <h2 className="tile__label">{props.label}</h2>
      <p className="tile__value">{props.value}</p>
    </section>
  );
}

type Fetched = { value: string } | { error: string } | null;

/**
 * A tile whose value the browser fetches from /api/tiles/<name> after hydration. Until the answer
 * comes its value is empty (a gate that reads it then says "empty", never a stale number); a
 * failed fetch shows the tile in its error state with the reason.
 */
export function FetchedTile(props: { name: string; label: string }) {
  const [fetched, setFetched] = useState<Fetched>(null);
  useEffect(() => {
    const abort = new AbortController();
    loadTile(props.name, abort.signal).then(setFetched, (error: unknown) => {
      if (!abort.signal.aborted) setFetched({ error: error instanceof Error ? error.message : String(error) });
    });
    return () => abort.abort();
  }, [props.name]);
  if (fetched === null) return <Tile name={props.name} label={props.label} value="" busy />;
  if ("error" in fetched) return <Tile name={props.name} label={props.label} value={fetched.error} error />;
  return <Tile name={props.name} label={props.label} value={fetched.value} />;
}

async function loadTile(name: string, signal: AbortSignal): Promise<{ value: string }> {
  const response = await fetch(`/api/tiles/${encodeURIComponent(name)}`, { signal });
  const body = (await response.json().catch(() => ({}))) as { value?: unknown; error?: unknown };
  if (!response.ok) throw new Error(`tile ${name}: HTTP ${response.status} ${String(body.error ?? "")}`.trim());
  return { value: String(body.value ?? "") };
}
