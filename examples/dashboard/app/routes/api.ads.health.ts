import { release } from "~/lib/env.server";

/** The ads service's health: this stand-in has no ads backend to ask, so it answers for itself. */
export function loader() {
  return Response.json({ status: "ok", service: "ads", release });
}
