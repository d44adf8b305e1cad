// The one way the console talks to people: JSON over fetch, with the session cookie, errors as values.

/** A refusal from the API: its status, its message and the messages by field. */
export class ApiError extends Error {
  constructor(status, body) {
    const fields = body && typeof body === 'object' && body.errors && typeof body.errors === 'object'
      ? body.errors : {};
    let message;
    if (typeof body === 'string' && body.trim()) message = body.trim();
    else if (body && typeof body.message === 'string') message = body.message;
    else if (Object.keys(fields).length) message = Object.values(fields).map(String).join(' ');
    else if (status === 0) message = 'The server cannot be reached. Check your connection and try again.';
    else message = `The request failed (${status}).`;
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

let onUnauthenticated = null;
/** What to do when a signed-in request answers 401 (the session expired or was revoked). */
export function whenSignedOut(handler) {
  onUnauthenticated = handler;
}

/** Calls the API; resolves to the parsed body (or null), rejects with an ApiError. */
export async function api(method, path, body, { anonymous = false } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!response.ok) {
    if (response.status === 401 && !anonymous && onUnauthenticated) onUnauthenticated();
    throw new ApiError(response.status, data);
  }
  return data;
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
