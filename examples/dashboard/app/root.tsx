import { Suspense, useEffect } from "react";
import { isRouteErrorResponse, Links, Meta, Outlet, Scripts, ScrollRestoration } from "react-router";
import { faults } from "~/lib/faults.server";
import type { Route } from "./+types/root";

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #f6f6f7; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 1rem; }
.tile { background: #fff; border-radius: .75rem; padding: 1rem; box-shadow: 0 1px 2px #0002; }
.tile__label { font-size: .9rem; color: #616161; margin: 0 0 .5rem; }
.tile__value { font-size: 1.6rem; margin: 0; min-height: 2rem; }
.tile--error { background: #fff4f4; color: #8e1f0b; }
`;

/** The faults the browser acts on (faults.json is read on the server; the client learns them here). */
export function loader() {
  return {
    consoleError: faults.client_console_error,
    consoleErrorDelayMs: faults.client_console_error_delay_ms,
    hydrationMismatch: faults.hydration_mismatch,
  };
}

export function Layout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {/* No favicon request: a 404 for it would be a console error of its own. */}
        <link rel="icon" href="data:," />
        <Meta />
        <Links />
        <style>{STYLE}</style>
      </head>
      <body>
        {children}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App({ loaderData }: Route.ComponentProps) {
  useEffect(() => {
    // The hydration marker: React has taken over the page, so client code runs (a gate waits on it).
    document.documentElement.dataset.hydrated = "true";
  }, []);
  return (
    <>
      <Outlet />
      {loaderData.consoleError && (
        <ConsoleErrorFault message={loaderData.consoleError} delayMs={loaderData.consoleErrorDelayMs} />
      )}
      {loaderData.hydrationMismatch && <HydrationMismatchFault />}
    </>
  );
}

/** A client component that logs an error after hydration, as a broken widget would. */
function ConsoleErrorFault({ message, delayMs }: { message: string; delayMs: number }) {
  useEffect(() => {
    const timer = setTimeout(() => console.error(message), delayMs);
    return () => clearTimeout(timer);
  }, [message, delayMs]);
  return null;
}

/** Text that differs between the server's render and the browser's, so React reports a hydration error. */
function HydrationMismatchFault() {
  const where = typeof document === "undefined" ? "server" : "browser";
  // Its own Suspense boundary: React re-renders only this part in the browser after the mismatch.
  return (
    <Suspense>
      <p className="rendered-on">rendered on the {where}</p>
    </Suspense>
  );
}

export function ErrorBoundary({ error }: Route.ErrorBoundaryProps) {
  const title = isRouteErrorResponse(error) ? `${error.status} ${error.statusText}` : "Error";
  return (
    <main className="error">
      <h1>{title}</h1>
    </main>
  );
}
