/** What the platform tells this instance through its environment. */

/** The release number the platform deployed (0 when not given). */
export const release = Number(process.env.APP_RELEASE || 0);

/** The id of this instance, reported by /health. */
export const instance = process.env.APP_INSTANCE ?? "";

const FLAG_NAMES = ["ANALYTICS_REAL_DATA"];
const FLAG_PREFIX = "FEATURE_";
const TRUE_WORDS = ["1", "true", "yes", "on"];

/** The feature flags this instance believes in: the named ones (off when unset), every FEATURE_*, and the forced ones. */
export function flags(forcedOn: readonly string[]): Record<string, boolean> {
  const forced = new Set(forcedOn);
  const names = new Set([...FLAG_NAMES, ...Object.keys(process.env).filter((k) => k.startsWith(FLAG_PREFIX)), ...forced]);
  const on = (name: string) => forced.has(name) || TRUE_WORDS.includes((process.env[name] ?? "").trim().toLowerCase());
  return Object.fromEntries([...names].sort().map((name) => [name, on(name)]));
}
