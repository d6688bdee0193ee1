// Sign-in with an API token, exchanged for an HttpOnly session cookie (POST /auth/session).
// The token is never stored: not in localStorage, sessionStorage, a cookie this script can
// read, nor a URL the server sees. What is kept (in memory only) is the session's answer,
// whose CSRF token must accompany anything but a GET.

let current = null;

export function session() {
  return current;
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** The signed-in session, or null (401). */
export async function loadSession() {
  const response = await fetch("/auth/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    current = null;
    return null;
  }
  if (!response.ok) throw new Error(`GET /auth/session answered HTTP ${response.status}`);
  current = await readJson(response);
  return current;
}

export class SignInError extends Error {}

export async function signIn(token) {
  const response = await fetch("/auth/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = await readJson(response);
  if (!response.ok) {
    const reason = body?.error ?? `HTTP ${response.status}`;
    const text =
      response.status === 401
        ? `That token was not accepted (${reason}).`
        : response.status === 429
          ? "Too many failed sign-ins from this address; wait a minute and try again."
          : `Sign-in failed: ${reason}.`;
    throw new SignInError(text);
  }
  current = body;
  return current;
}

export async function signOut() {
  const csrf = current?.csrfToken ?? "";
  current = null;
  const response = await fetch("/auth/session", {
    method: "DELETE",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf },
  });
  if (!response.ok && response.status !== 401) throw new Error(`Sign-out failed: HTTP ${response.status}`);
}

/** `/#token=...` (what `relhealth serve --demo` prints): take it out of the address bar
 * first, so it stays in no history entry, then exchange it. */
export function takeTokenFromFragment() {
  if (!location.hash.startsWith("#")) return null;
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (!token) return null;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  return token;
}
