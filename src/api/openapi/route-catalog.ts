import type { FastifyInstance } from 'fastify';
import type { OpenApiRouteConfig, RouteDoc } from '../api-route.ts';

/** A route as Fastify registered it, with what it says about the document. */
export interface CatalogRoute {
  readonly method: string;
  readonly url: string;
  /** Its document; `exclude` (with why) for a route outside the JSON API; undefined: says nothing. */
  readonly openapi: RouteDoc | { readonly exclude: string } | undefined;
}

export interface RouteCatalog {
  /** Every route the server has, one entry a method, HEAD included. */
  routes(): readonly CatalogRoute[];
}

const catalogs = new WeakMap<FastifyInstance, RouteCatalog>();

/**
 * Records every route registered on `app` and on the scopes registered in it afterwards (an
 * onRoute hook, added before any route). The document is built from this list, and the test
 * that checks the document against the server reads it too.
 */
export function createRouteCatalog(app: FastifyInstance): RouteCatalog {
  const routes: CatalogRoute[] = [];
  app.addHook('onRoute', (options) => {
    const config = options.config as Partial<OpenApiRouteConfig> | undefined;
    for (const method of [options.method].flat()) routes.push(Object.freeze({ method: String(method), url: options.url ?? options.path, openapi: config?.openapi }));
  });
  const catalog: RouteCatalog = { routes: () => routes };
  catalogs.set(app, catalog);
  return catalog;
}

/** The catalog of a server built by createRunnerApi. */
export function routeCatalogOf(app: FastifyInstance): RouteCatalog | undefined {
  return catalogs.get(app);
}
