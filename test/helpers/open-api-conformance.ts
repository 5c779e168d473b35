import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ENDPOINTS } from '../../src/openapi/endpoints.js';
import type { OpenApiDocument } from '../../src/openapi/open-api-document.js';
import type { TestServer } from './http.js';

// ajv-formats is CommonJS: its default export is the plugin function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** The top-level fields of an OpenAPI document, which are not JSON Schema keywords. */
const DOCUMENT_FIELDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'tags', 'paths', 'components'];

/**
 * An ajv (JSON Schema 2020-12, strict) that holds a whole OpenAPI document, so that any schema in
 * it can be compiled by its JSON pointer, its `#/components/...` references resolved.
 */
export function documentAjv(document: OpenApiDocument): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  for (const field of DOCUMENT_FIELDS) ajv.addKeyword(field);
  ajv.addSchema(document, 'openapi.json');
  return ajv;
}

/** A JSON pointer segment: `/` and `~` escaped. */
const segment = (value: string) => value.replace(/~/g, '~0').replace(/\//g, '~1');

export interface CallRequest {
  /** Path parameters by name (`{id}` → `params.id`). */
  params?: Record<string, string>;
  query?: Record<string, string | number>;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
}

export interface CheckedAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined for a stream, a text or an empty answer). */
  body: any;
  /** The body as it came. */
  text: string;
  /** The server-sent events, as objects of their fields (`data` parsed as JSON when it is). */
  events: { id?: number; event?: string; data: any }[];
}

interface Operation {
  path: string;
  method: string;
  responses: Record<string, { content?: Record<string, unknown> }>;
}

/**
 * Calls the operations of a document over HTTP and checks every answer against it: the status
 * must be one the operation lists, the media type one that status lists, and the JSON body (or
 * each server-sent event) must match the schema the document gives it. Records which endpoints
 * of the registry were seen answering, and with which statuses.
 */
export class OpenApiConformance {
  readonly #ajv: Ajv2020;
  readonly #operations = new Map<string, Operation>();
  readonly #validators = new Map<string, ValidateFunction>();
  /** Endpoint id (of src/openapi/endpoints.ts) → the statuses seen. */
  readonly seen = new Map<string, Set<number>>();

  constructor(document: OpenApiDocument) {
    this.#ajv = documentAjv(document);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const { operationId, responses } = operation as { operationId: string; responses: Operation['responses'] };
        this.#operations.set(operationId, { path, method, responses });
      }
    }
  }

  /** Sends the request, and resolves once the answer's headers arrived (a stream is still open). */
  async open(server: TestServer, operationId: string, request: CallRequest = {}): Promise<{ operationId: string; response: Response }> {
    const operation = this.#operations.get(operationId);
    if (!operation) throw new Error(`The document has no operation ${operationId}`);
    let path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = request.params?.[name];
      if (value === undefined) throw new Error(`${operationId}: no value for the path parameter ${name}`);
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) query.set(name, String(value));
    if (query.size > 0) path += `?${query}`;
    const headers: Record<string, string> = { ...request.headers };
    let body: string | undefined;
    if (request.body !== undefined) {
      body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${server.url}${path}`, { method: operation.method.toUpperCase(), headers, body });
    return { operationId, response };
  }

  /** Reads the whole answer and checks it against the document; throws, saying how, if it leaves it. */
  async finish({ operationId, response }: { operationId: string; response: Response }): Promise<CheckedAnswer> {
    return this.check(operationId, response.status, response.headers, await response.text());
  }

  async call(server: TestServer, operationId: string, request: CallRequest = {}): Promise<CheckedAnswer> {
    return this.finish(await this.open(server, operationId, request));
  }

  /** Checks one answer (status, headers and body text) against the document. */
  check(operationId: string, status: number, headers: Headers, text: string): CheckedAnswer {
    const operation = this.#operations.get(operationId)!;
    const where = `${operation.method.toUpperCase()} ${operation.path} (${operationId}) answered ${status}`;
    const documented = operation.responses[String(status)];
    if (!documented) throw new Error(`${where}, a status the document does not list: ${text.slice(0, 500)}`);
    const answer: CheckedAnswer = { status, headers, body: undefined, text, events: [] };
    if (!documented.content) {
      if (text !== '') throw new Error(`${where} with a body, where the document says it has none: ${text.slice(0, 500)}`);
      this.#record(operationId, status);
      return answer;
    }
    const contentType = headers.get('content-type') ?? '';
    const mediaType = mediaTypeOf(Object.keys(documented.content), contentType);
    if (!mediaType) {
      throw new Error(`${where} with ${contentType || 'no content type'}, where the document lists ${Object.keys(documented.content).join(', ')}`);
    }
    const validate = this.#validator(operation, status, mediaType);
    const values: unknown[] = [];
    if (mediaType === 'text/event-stream') {
      answer.events = parseEventStream(text);
      values.push(...answer.events);
    } else if (mediaType === 'application/json') {
      answer.body = JSON.parse(text);
      values.push(answer.body);
    } else {
      values.push(text);
    }
    for (const value of values) {
      if (!validate(value)) {
        throw new Error(`${where} with a body (${mediaType}) that leaves its documented schema: ${this.#ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
      }
    }
    this.#record(operationId, status);
    return answer;
  }

  #validator(operation: Operation, status: number, mediaType: string): ValidateFunction {
    const pointer = ['paths', operation.path, operation.method, 'responses', String(status), 'content', mediaType, 'schema'].map(segment).join('/');
    let validate = this.#validators.get(pointer);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: `openapi.json#/${pointer}` });
      this.#validators.set(pointer, validate);
    }
    return validate;
  }

  #record(operationId: string, status: number): void {
    const endpoint = ENDPOINTS.find((candidate) => operationId === candidate.id || operationId.startsWith(`${candidate.id}_`));
    if (!endpoint) throw new Error(`No endpoint of the registry has the operation ${operationId}`);
    const statuses = this.seen.get(endpoint.id) ?? new Set<number>();
    statuses.add(status);
    this.seen.set(endpoint.id, statuses);
  }
}

/**
 * The documented media type an answer's `Content-Type` is: the same type, with every parameter
 * the document names (`text/plain; version=0.0.4`); a charset the document does not name is fine.
 */
function mediaTypeOf(documented: readonly string[], contentType: string): string | undefined {
  const parts = (value: string) => value.split(';').map((part) => part.trim().toLowerCase().replace(/\s*=\s*/, '=')).filter(Boolean);
  const [type, ...parameters] = parts(contentType);
  return documented.find((candidate) => {
    const [documentedType, ...documentedParameters] = parts(candidate);
    return documentedType === type && documentedParameters.every((parameter) => parameters.includes(parameter));
  });
}

/** A whole text/event-stream body as its events; comment lines (heartbeats) are skipped. */
export function parseEventStream(text: string): { id?: number; event?: string; data: any }[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const field = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      const id = field('id');
      const event = field('event');
      const data = field('data') ?? '';
      let parsed: unknown = data;
      try {
        parsed = JSON.parse(data);
      } catch {
        // Not JSON: the data as it is (`[DONE]` ends a UI message stream).
      }
      return { ...(id !== undefined ? { id: Number(id) } : {}), ...(event !== undefined ? { event } : {}), data: parsed };
    });
}
