import type { Route } from "./+types/api.alerts";

/** A stand-in for a Slack incoming webhook, so the release's alert channel can be proven: JSON with `text`. */
export async function action({ request }: Route.ActionArgs) {
  if (request.method !== "POST") return Response.json({ error: "POST only" }, { status: 405 });
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return Response.json({ error: "expected JSON" }, { status: 400 });
  }
  const text = typeof body === "object" && body !== null ? (body as { text?: unknown }).text : undefined;
  if (typeof text !== "string") return Response.json({ error: "expected an object with text" }, { status: 400 });
  console.log(`alert received: ${text.slice(0, 300)}`);
  return new Response(null, { status: 204 });
}
