import { Router } from 'express';
import { buildOpenApiDocument, type OpenApiOptions } from './document.js';
import { renderDocsPage } from './docs-page.js';

export { buildOpenApiDocument } from './document.js';

/**
 * `/openapi.json` and `/docs`. Mounted before the API-key check on purpose: the document describes
 * shapes, never data, and integrators and code generators expect to read it without a secret.
 */
export function openapiRoutes(o: OpenApiOptions): Router {
  const doc = buildOpenApiDocument(o);
  const body = JSON.stringify(doc);
  const page = renderDocsPage(doc);
  const r = Router();
  r.get('/openapi.json', (_req, res) => void res.type('application/json').send(body));
  r.get('/docs', (_req, res) => void res.type('html').send(page));
  return r;
}
