// Light and dark: the system's choice (prefers-color-scheme) until the toggle picks one.
// The choice is a display preference, the only thing this page keeps in localStorage.
const KEY = "relhealth-theme";

function systemDark() {
  return window.matchMedia("(prefers-color-scheme: dark)").matches;
}

export function currentTheme() {
  return document.documentElement.dataset.theme ?? (systemDark() ? "dark" : "light");
}

function apply(theme, button) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  const dark = currentTheme() === "dark";
  button.setAttribute("aria-pressed", String(dark));
  button.textContent = dark ? "Light theme" : "Dark theme";
  window.dispatchEvent(new CustomEvent("relhealth:theme"));
}

export function startTheme(button) {
  let saved = null;
  try {
    saved = localStorage.getItem(KEY);
  } catch {
    // storage disabled: follow the system
  }
  apply(saved === "dark" || saved === "light" ? saved : null, button);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (!document.documentElement.dataset.theme) apply(null, button);
  });
  button.addEventListener("click", () => {
    const next = currentTheme() === "dark" ? "light" : "dark";
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // not kept; still applied
    }
    apply(next, button);
  });
}
