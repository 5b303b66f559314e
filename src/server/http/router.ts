/**
 * A small router for the admin API: routes are a method and a path pattern whose segments are
 * literals or `:name` captures (`/api/queues/:vhost/:name`). A path is split on '/' before its
 * segments are percent-decoded, so an encoded slash stays inside its segment: the vhost "/" is
 * written `%2F` (`/api/queues/%2F/orders`), as in RabbitMQ's management API. A capture never
 * matches an empty segment.
 */
import type { JsonValue } from './field-table-json.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface RouteRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body; undefined when the request had none. */
  readonly body: unknown;
}

export interface HttpReply {
  readonly status: number;
  /** Sent as JSON; no body when left out (204). */
  readonly body?: JsonValue;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (request: RouteRequest) => Promise<HttpReply> | HttpReply;

export type RouteMatch =
  | { readonly kind: 'found'; readonly handler: RouteHandler; readonly params: Readonly<Record<string, string>> }
  /** The path exists, not with this method. */
  | { readonly kind: 'wrongMethod'; readonly allowed: readonly HttpMethod[] }
  | { readonly kind: 'notFound' }
  /** A segment is not valid percent-encoding. */
  | { readonly kind: 'badPath'; readonly reason: string };

interface Route {
  readonly method: HttpMethod;
  readonly segments: readonly string[];
  readonly handler: RouteHandler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: HttpMethod, pattern: string, handler: RouteHandler): this {
    if (!pattern.startsWith('/')) throw new Error(`route pattern '${pattern}' must start with '/'`);
    this.routes.push({ method, segments: pattern.slice(1).split('/'), handler });
    return this;
  }

  /** `path` without its query string, still percent-encoded. */
  match(method: string, path: string): RouteMatch {
    let segments: string[];
    try {
      segments = splitPath(path);
    } catch {
      return { kind: 'badPath', reason: `the path '${path}' is not valid percent-encoding` };
    }
    const allowed: HttpMethod[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (params === null) continue;
      if (route.method === method) return { kind: 'found', handler: route.handler, params };
      if (!allowed.includes(route.method)) allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: 'wrongMethod', allowed } : { kind: 'notFound' };
  }
}

/** "/api/queues/%2F/orders" → ["api", "queues", "/", "orders"]; a trailing slash is ignored. */
export function splitPath(path: string): string[] {
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  const raw = trimmed.split('/');
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  return raw.map((segment) => decodeURIComponent(segment));
}

function matchSegments(pattern: readonly string[], segments: readonly string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [index, expected] of pattern.entries()) {
    const actual = segments[index]!;
    if (expected.startsWith(':')) {
      if (actual === '') return null;
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) {
      return null;
    }
  }
  return params;
}
