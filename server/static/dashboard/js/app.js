// The dashboard's entry point: sign-in, then one page per URL.
import { SIGNED_OUT_EVENT, query } from "./api.js";
import { h, replace } from "./dom.js";
import { renderRelease } from "./pages/release.js";
import { renderReleases } from "./pages/releases.js";
import { readState, startRouter } from "./router.js";
import { SignInError, loadSession, session, signIn, signOut, takeTokenFromFragment } from "./session.js";
import { failure, loading } from "./states.js";
import { startTheme } from "./theme.js";

const view = document.getElementById("view");
const signInSection = document.getElementById("sign-in");
const signInForm = document.getElementById("sign-in-form");
const signInError = document.getElementById("sign-in-error");
const tokenInput = document.getElementById("token");
const signOutButton = document.getElementById("sign-out");
const orgName = document.getElementById("org-name");

let meta = null; // DashboardMeta, loaded once per session
let renderCount = 0;

function showSignIn(message = "") {
  meta = null;
  renderCount++;
  replace(view);
  view.setAttribute("aria-busy", "false");
  signOutButton.hidden = true;
  orgName.textContent = "";
  signInSection.hidden = false;
  signInError.textContent = message;
  document.title = "Sign in · relhealth";
  tokenInput.focus();
}

async function render() {
  const mine = ++renderCount;
  const current = () => mine === renderCount;
  view.setAttribute("aria-busy", "true");
  const s = session();
  if (!s) return showSignIn();
  signInSection.hidden = true;
  signOutButton.hidden = false;
  orgName.textContent = s.organization;
  if (!meta) {
    replace(view, loading("Loading projects…"));
    try {
      meta = await query("DashboardMeta", { slug: s.organization });
    } catch (error) {
      if (current() && session()) {
        replace(view, failure("Could not load the organization.", error));
        view.setAttribute("aria-busy", "false");
      }
      return;
    }
    if (!current()) return;
    if (!meta.organization) {
      replace(view, failure("Could not load the organization.", new Error(`${s.organization} is not visible to this session.`)));
      view.setAttribute("aria-busy", "false");
      meta = null;
      return;
    }
  }
  const state = readState();
  const ctx = { session: s, meta, current };
  if (state.page === "release") await renderRelease(view, state, ctx);
  else await renderReleases(view, state, ctx);
  // Every request of this render has answered (tests and screen readers can rely on it).
  if (current()) view.setAttribute("aria-busy", "false");
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (!token) {
    signInError.textContent = "Enter an API token.";
    return;
  }
  signInError.textContent = "";
  const button = signInForm.querySelector("button");
  button.disabled = true;
  view.setAttribute("aria-busy", "true");
  try {
    await signIn(token);
    tokenInput.value = "";
    await render();
  } catch (error) {
    signInError.textContent = error instanceof SignInError ? error.message : `Sign-in failed: ${error.message}`;
    view.setAttribute("aria-busy", "false");
  } finally {
    button.disabled = false;
  }
});

signOutButton.addEventListener("click", async () => {
  try {
    await signOut();
    showSignIn("You are signed out.");
  } catch (error) {
    showSignIn(error.message);
  }
});

window.addEventListener(SIGNED_OUT_EVENT, () => showSignIn("Your session ended; sign in again."));

async function start() {
  startTheme(document.getElementById("theme-toggle"));
  startRouter(render);
  const token = takeTokenFromFragment();
  try {
    if (token) {
      try {
        await signIn(token);
      } catch (error) {
        showSignIn(error.message);
        return;
      }
    } else {
      await loadSession();
    }
  } catch (error) {
    replace(view, failure("Could not reach the server.", error));
    return;
  }
  await render();
}

start();
