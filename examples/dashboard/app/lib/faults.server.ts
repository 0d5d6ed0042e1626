/**
 * The faults this release was built with, for tests that must see a gate fail.
 *
 * A faulty release is this folder with a `faults.json` next to its package.json, read once when
 * the server starts. An unknown key (or a value of the wrong type) stops the server at start, so a
 * misspelt fault never passes silently as a healthy release. The keys are those of the Python
 * stand-in (examples/demo/app.py) plus the client-side ones; README.md lists them all.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Faults {
  status: Record<string, number>;
  delay_ms: Record<string, number>;
  fail_health: boolean;
  extra_html: string;
  empty_tiles: string[];
  stuck_loading: boolean;
  frame_ancestors: string;
  x_frame_options: string;
  flags_on: string[];
  client_console_error: string;
  client_console_error_delay_ms: number;
  failing_fetch_tile: string;
  hydration_mismatch: boolean;
  corrupt_signup_email: boolean;
}

const NONE: Faults = {
  status: {},
  delay_ms: {},
  fail_health: false,
  extra_html: "",
  empty_tiles: [],
  stuck_loading: false,
  frame_ancestors: "",
  x_frame_options: "",
  flags_on: [],
  client_console_error: "",
  client_console_error_delay_ms: 0,
  failing_fetch_tile: "",
  hydration_mismatch: false,
  corrupt_signup_email: false,
};

/** The folder holding package.json above this module: the app's root, in the build and in dev alike. */
export function appRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

function kind(value: unknown): string {
  return Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
}

/** Parse and check a faults file's text; throw an Error naming the file and the bad key. */
export function parseFaults(text: string, path: string): Faults {
  const raw: unknown = JSON.parse(text);
  if (kind(raw) !== "object") throw new Error(`${path}: expected a JSON object of faults`);
  const given = raw as Record<string, unknown>;
  const known = Object.keys(NONE).sort();
  const unknown = Object.keys(given).filter((key) => !known.includes(key));
  if (unknown.length) throw new Error(`${path}: unknown fault(s) ${unknown.join(", ")}; known: ${known.join(", ")}`);
  for (const [key, value] of Object.entries(given)) {
    const expected = kind(NONE[key as keyof Faults]);
    if (kind(value) !== expected) throw new Error(`${path}: fault ${key} must be a ${expected}, got ${kind(value)}`);
  }
  return { ...NONE, ...given } as Faults;
}

function loadFaults(): Faults {
  const path = join(appRoot(), "faults.json");
  return existsSync(path) ? parseFaults(readFileSync(path, "utf8"), path) : NONE;
}

export const faults: Faults = loadFaults();
