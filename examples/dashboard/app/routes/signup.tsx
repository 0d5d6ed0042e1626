import { data, Form } from "react-router";
import { DatabaseUnavailable, storeSignup } from "~/lib/db.server";
import { faults } from "~/lib/faults.server";
import type { Route } from "./+types/signup";

export function meta() {
  return [{ title: "Sign up - Hot Dash" }];
}

/** Store (email, name) in public.signups; the confirmation repeats what was typed, as the visitor sees it. */
export async function action({ request }: Route.ActionArgs) {
  const form = await request.formData();
  const email = String(form.get("email") ?? "").trim();
  const name = String(form.get("name") ?? "").trim();
  if (!email.includes("@") || !name) return data({ error: "A name and an email address, please." }, { status: 400 });
  const at = email.indexOf("@");
  // The fault: an off-by-one slice drops the last character of the local part.
  const stored = faults.corrupt_signup_email ? email.slice(0, at - 1) + email.slice(at) : email;
  try {
    await storeSignup(stored, name);
  } catch (error) {
    if (!(error instanceof DatabaseUnavailable)) throw error;
    return data({ error: `Not saved: ${error.message}.` }, { status: 503 });
  }
  return { saved: { email, name } };
}

export default function Signup({ actionData }: Route.ComponentProps) {
  const saved = actionData && "saved" in actionData ? actionData.saved : undefined;
  const error = actionData && "error" in actionData ? actionData.error : undefined;
  return (
    <main className="signup-page">
      <h1>Hot Dash news</h1>
      {saved ? (
        <p className="signup__confirmation" role="status">
          Thanks, {saved.name}: we will write to {saved.email}.
        </p>
      ) : (
        <>
          {error && (
            <p className="signup__error" role="alert">
              {error}
            </p>
          )}
          <Form method="post" className="signup">
            <label>
              Name <input name="name" autoComplete="name" required />
            </label>
            <label>
              Email <input name="email" type="email" autoComplete="email" required />
            </label>
            <button type="submit">Sign up</button>
          </Form>
        </>
      )}
    </main>
  );
}
