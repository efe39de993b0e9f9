// The admin pages' shared helpers: the session's CSRF token and a fetch that sends it.

/**
 * The CSRF token of this page's session (from its <meta name="peek-csrf-token">).
 * @returns {string}
 */
export function csrfToken() {
  const meta = document.querySelector('meta[name="peek-csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}

/**
 * fetch() for the admin site: same-origin credentials and, for a request that may change
 * state, the X-Peek-CSRF header. A 401 answer means the session ended: go to the login page.
 * @param {string} url
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function adminFetch(url, init = {}) {
  const method = (init.method || "GET").toUpperCase();
  const headers = new Headers(init.headers || {});
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) {
    headers.set("X-Peek-CSRF", csrfToken());
  }
  const response = await fetch(url, { ...init, headers, credentials: "same-origin" });
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
  }
  return response;
}

// Mark the current page in the nav.
for (const link of document.querySelectorAll("header nav a")) {
  if (link instanceof HTMLAnchorElement && link.pathname === window.location.pathname) {
    link.setAttribute("aria-current", "page");
  }
}
