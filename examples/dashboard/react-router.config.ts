import type { Config } from "@react-router/dev/config";

// Server-side rendering: the dashboard's first tiles come from the database in the route's loader.
// The v8 behaviours are opted into now, so an upgrade changes nothing (and the build log stays quiet).
export default {
  ssr: true,
  future: {
    v8_middleware: true,
    v8_splitRouteModules: true,
    v8_viteEnvironmentApi: true,
    v8_passThroughRequests: true,
    v8_trailingSlashAwareDataRequests: true,
  },
} satisfies Config;
