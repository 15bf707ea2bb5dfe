import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MethodNotAllowedError, NotFoundError } from '../../core/errors';

export type Params = Readonly<Record<string, string>>;
export type RouteHandler<C, R> = (event: APIGatewayProxyEventV2, params: Params, context: C) => Promise<R>;

interface Route<C, R> {
  readonly method: string;
  readonly pattern: string;
  readonly segments: readonly string[];
  readonly handler: RouteHandler<C, R>;
}

/**
 * Method + path dispatch inside one Lambda. Patterns use `:name` for one path segment. An unknown
 * path (one with an empty segment too) is 404; a known path with another method is 405 with `Allow`.
 */
export class Router<C, R> {
  private readonly routes: Route<C, R>[] = [];

  on(method: string, pattern: string, handler: RouteHandler<C, R>): this {
    this.routes.push({ method, pattern, segments: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /** Every route, as registered: what the OpenAPI document must describe (test/api/openapi.test.ts). */
  table(): { readonly method: string; readonly pattern: string }[] {
    return this.routes.map(({ method, pattern }) => ({ method, pattern }));
  }

  resolve(method: string, path: string): { handler: RouteHandler<C, R>; params: Params } {
    // An empty segment (`/v2/sip/call/`, `//`) names no resource: a path is matched as written, never normalised.
    const parts = path.split('/').slice(1);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = match(route.segments, parts);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params };
      allowed.push(route.method);
    }
    if (allowed.length) throw new MethodNotAllowedError(allowed);
    throw new NotFoundError('Not found');
  }
}

function match(segments: readonly string[], parts: readonly string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i] as string;
    if (part === '') return null;
    if (segment.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return null;
      }
      params[segment.slice(1)] = value;
    } else if (segment !== part) return null;
  }
  return params;
}
