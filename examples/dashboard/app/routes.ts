import { type RouteConfig, index, route } from "@react-router/dev/routes";

export default [
  index("routes/home.ts"),
  route("app", "routes/dashboard.tsx"),
  route("health", "routes/health.ts"),
  route("api/ads/health", "routes/api.ads.health.ts"),
  route("api/analytics/health", "routes/api.analytics.health.ts"),
  route("api/flags", "routes/api.flags.ts"),
  route("api/alerts", "routes/api.alerts.ts"),
  route("api/tiles/:name", "routes/api.tiles.$name.ts"),
  route("signup", "routes/signup.tsx"),
] satisfies RouteConfig;
