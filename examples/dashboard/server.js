// Serve the built app (`npm run build` first): `npm start`, or `node server.js`.
// PORT (default 3000) and HOST (default 127.0.0.1; 0.0.0.0 in a container) say where to listen.
const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || "127.0.0.1";

let app;
try {
  ({ app } = await import("./build/server/index.js"));
} catch (error) {
  // A bad faults.json, or no build: one line saying why, and a failed start.
  console.error(`dashboard: cannot start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

const server = app.listen(port, host, (error) => {
  if (error) {
    console.error(`dashboard: cannot listen on ${host}:${port}: ${error.message}`);
    process.exit(1);
  }
  console.log(`dashboard listening on http://${host}:${port}`);
});

// Stopped by the platform after it drained this instance: finish what is in flight, then exit.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
