/**
 * The Express app the server build exports: every response's headers, the request faults, the
 * built static files, then React Router. server.js listens with it.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createRequestHandler } from "@react-router/express";
import express from "express";
import "react-router";
import { appRoot, faults } from "~/lib/faults.server";

const release = process.env.APP_RELEASE;
const frameAncestors = faults.frame_ancestors || process.env.FRAME_ANCESTORS?.trim() || "'none'";

export const app = express();
app.disable("x-powered-by");

// Every response, assets and errors included: the release it came from, and who may embed it.
app.use((_req, res, next) => {
  if (release) res.setHeader("X-Release", release);
  res.setHeader("Content-Security-Policy", `frame-ancestors ${frameAncestors}`);
  if (faults.x_frame_options) res.setHeader("X-Frame-Options", faults.x_frame_options);
  next();
});

app.use(async (req, res, next) => {
  const delay = faults.delay_ms[req.path];
  if (delay) await sleep(delay);
  const status = faults.status[req.path];
  if (status) {
    res.status(status).json({ status: "error", error: "injected fault" });
    return;
  }
  next();
});

const client = join(appRoot(), "build", "client");
// Vite fingerprints what it puts in assets/: cache those for good.
app.use("/assets", express.static(join(client, "assets"), { immutable: true, maxAge: "1y" }));
app.use(express.static(client, { maxAge: "1h" }));

app.use(createRequestHandler({ build: () => import("virtual:react-router/server-build") }));
