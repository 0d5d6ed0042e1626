import { flags, release } from "~/lib/env.server";
import { faults } from "~/lib/faults.server";

/** What this instance believes its feature flags are, as booleans. */
export function loader() {
  return Response.json({ flags: flags(faults.flags_on), release });
}
