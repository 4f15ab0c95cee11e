// Small pieces shared by the pages. Every user string goes in as text.

import { html } from "../html.js";

export function navigate(path) {
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

// An in-app link: a real href (open in a new tab works), client-side navigation on click.
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

export function StateBadge({ state }) {
  return html`<span class=${"state state-" + state}>${state}</span>`;
}

export function Tags({ tags }) {
  return html`<span class="tags">${(tags || []).map((t) => html`<span class="tag">${t}</span>`)}</span>`;
}

export function LiveDot({ live }) {
  return html`<span class=${"live " + (live ? "on" : "off")}
    title=${live ? "Live: updates arrive as runs log" : "Not live: reconnecting to the server"}>
    ${live ? "live" : "offline"}</span>`;
}
