import { instance, release } from "~/lib/env.server";
import { faults } from "~/lib/faults.server";

/** The instance itself: up, and which release it serves (the platform's readiness check). */
export function loader() {
  const ok = !faults.fail_health;
  return Response.json({ status: ok ? "ok" : "error", release, instance }, { status: ok ? 200 : 503 });
}
