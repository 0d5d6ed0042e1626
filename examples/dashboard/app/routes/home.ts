import { redirect } from "react-router";

/** The app's front page is its dashboard. */
export function loader() {
  return redirect("/app");
}
