// GraphQL API v2 through persisted queries: the page knows its operations only by the
// hashes the server publishes at /dashboard/operations.json, and sends Apollo's APQ GET
// form. The session cookie authenticates; a GET needs no CSRF token.
import { session } from "./session.js";

let operationsPromise = null;

export class ApiError extends Error {
  constructor(message, { code = null, status = null } = {}) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** Fired when the server says the session is gone; the app shows the sign-in form. */
export const SIGNED_OUT_EVENT = "relhealth:signed-out";

function operations() {
  operationsPromise ??= fetch("/dashboard/operations.json", { credentials: "same-origin" }).then(async (r) => {
    if (!r.ok) throw new ApiError(`Could not load the dashboard's operations (HTTP ${r.status}).`, { status: r.status });
    return r.json();
  });
  operationsPromise.catch(() => {
    operationsPromise = null; // try again next time
  });
  return operationsPromise;
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...init });
  } catch (error) {
    throw new ApiError(`The server could not be reached (${error.message}).`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: handled below by status
  }
  return { response, body };
}

/** Run a named operation; resolves to its `data`, or throws ApiError with the GraphQL
 * errors' messages. */
export async function query(operationName, variables) {
  const ops = await operations();
  const op = ops[operationName];
  if (!op) throw new ApiError(`The server does not publish the operation ${operationName}.`);
  const extensions = { persistedQuery: { version: 1, sha256Hash: op.sha256Hash } };
  const params = new URLSearchParams({
    operationName,
    variables: JSON.stringify(variables),
    extensions: JSON.stringify(extensions),
  });
  let { response, body } = await send(`/graphql?${params}`, { headers: { Accept: "application/json" } });
  if (body?.errors?.some((e) => e.extensions?.code === "PERSISTED_QUERY_NOT_FOUND")) {
    // The server forgot the hash (e.g. a cache cleared): send the text once with it, which
    // registers it again. A POST with the session cookie needs the CSRF token.
    ({ response, body } = await send("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": session()?.csrfToken ?? "",
      },
      body: JSON.stringify({ operationName, variables, query: op.query, extensions }),
    }));
  }
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT));
    throw new ApiError("You are signed out.", { status: 401, code: "UNAUTHENTICATED" });
  }
  if (body?.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(body.errors.map((e) => e.message).join(" "), {
      code: first.extensions?.code ?? null,
      status: response.status,
    });
  }
  if (!response.ok || !body?.data) {
    throw new ApiError(`The server answered HTTP ${response.status}.`, { status: response.status });
  }
  return body.data;
}
