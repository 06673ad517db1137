// The engine's public HTTP API, as the console calls it: the key in x-api-key (never a cookie),
// the organization in x-org-id for a key of every organization, at most three requests at once
// (a key may run four queries at a time), errors as Error objects with the server's message.

const KEY = 'insights.key';
const MAX_IN_FLIGHT = 3;

let organization = null;
let allOrganizations = false;
let onSignedOut = () => {};

export function key() {
  return sessionStorage.getItem(KEY);
}

export function setKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

// Where requests go: `org` is sent only for a key that spans organizations.
export function setOrganization(org, spansOrganizations) {
  organization = org;
  allOrganizations = spansOrganizations;
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export class ApiError extends Error {
  constructor(status, message, requestId, field) {
    super(message);
    this.status = status;
    this.requestId = requestId;
    this.field = field;
  }
}

let inFlight = 0;
const waiting = [];

async function slot() {
  if (inFlight < MAX_IN_FLIGHT) {
    inFlight += 1;
    return;
  }
  await new Promise((resolve) => waiting.push(resolve));
}

function release() {
  const next = waiting.shift();
  if (next) next();
  else inFlight -= 1;
}

function headers(extra = {}) {
  const out = {'x-api-key': key() || '', ...extra};
  if (allOrganizations && organization) out['x-org-id'] = organization;
  return out;
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  let field;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      field = body.error.field;
    }
  } catch (_) {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, message, response.headers.get('x-request-id'), field);
}

// One request; resolves to the Response once it is OK. 401 signs out. A request whose `signal`
// is aborted while it waits for its turn is not sent.
export async function request(method, path, body, extraHeaders = {}, signal = undefined) {
  await slot();
  try {
    if (signal && signal.aborted) throw new DOMException('replaced by a newer screen', 'AbortError');
    const init = {method, headers: headers(extraHeaders), cache: 'no-store', signal};
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers['content-type'] = 'application/json';
    }
    const response = await fetch(path, init);
    if (!response.ok) {
      const error = await failure(response);
      if (response.status === 401 && key()) onSignedOut(error.message);
      throw error;
    }
    return response;
  } finally {
    release();
  }
}

export async function json(method, path, body, extraHeaders, signal) {
  const response = await request(method, path, body, extraHeaders, signal);
  return response.status === 204 ? null : response.json();
}

// Who the key is, checked without an organization: {role, all_organizations, organizations}.
export async function me(candidate) {
  const response = await fetch('/api/v1/me', {headers: {'x-api-key': candidate}, cache: 'no-store'});
  if (!response.ok) throw await failure(response);
  return response.json();
}

const DI = '/insights/directory/v1';

// A page of events: the response text (the stored events, byte for byte) and the cursor.
export async function events(body, signal) {
  const response = await request('POST', `${DI}/events`, body, {}, signal);
  const text = await response.text();
  const after = response.headers.get('x-search_after');
  return {text, searchAfter: after ? JSON.parse(after) : null};
}

export const distinct = (body, signal) => json('POST', `${DI}/events/distinct`, body, {}, signal);
export const interval = (body, signal) => json('POST', `${DI}/events/interval`, body, {}, signal);
export const views = () => json('GET', '/api/v1/views');
export const saveView = (view, replace) =>
  json('POST', '/api/v1/views', view, replace ? {'x-replace': 'true'} : {});
export const deleteView = (name) => json('DELETE', `/api/v1/views/${encodeURIComponent(name)}`);
export const enrich = (kind, who) =>
  json('GET', `/api/v1/enrich/${kind}/${encodeURIComponent(who)}`);
export const exportLink = (body, format, gzip) =>
  json('POST', `/api/v1/export/link?format=${format}&gzip=${gzip}`, body);
