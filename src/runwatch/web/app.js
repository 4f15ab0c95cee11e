// The single-page app: reads the route and view from the URL, renders the page, and
// writes every view change back to the URL so any view can be shared.

import { render } from "./vendor/preact.js";
import { useEffect, useState } from "./vendor/hooks.js";
import { html } from "./html.js";
import { parseRoute, parseView, viewQuery } from "./lib/url.js";
import { ProjectsPage } from "./components/projects.js";
import { Workspace } from "./components/workspace.js";
import { RunPage } from "./components/run_page.js";
import { ArtifactPage, ArtifactsPage } from "./components/artifacts.js";
import { SignIn } from "./components/sign_in.js";

function useUnauthorized() {
  const [reason, setReason] = useState(null);
  useEffect(() => {
    const on = (ev) => setReason(ev.detail || "");
    addEventListener("runwatch:unauthorized", on);
    return () => removeEventListener("runwatch:unauthorized", on);
  }, []);
  return reason;
}

function useLocation() {
  const read = () => ({ route: parseRoute(location.pathname), view: parseView(location.search) });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const onPop = () => setLoc(read());
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const setView = (patch) => setLoc((old) => {
    const view = { ...old.view, ...patch };
    history.replaceState(null, "", location.pathname + viewQuery(view));
    return { ...old, view };
  });
  return [loc, setView];
}

function App() {
  const [{ route, view }, setView] = useLocation();
  const unauthorized = useUnauthorized();
  useEffect(() => {
    document.title = route.page === "projects" ? "runwatch"
      : route.page === "run" ? `${route.run} · ${route.project} · runwatch`
      : route.page === "artifact" ? `${route.artifact} · ${route.project} · runwatch` : `${route.project} · runwatch`;
  }, [route.page, route.project, route.run, route.artifact]);
  let page;
  if (unauthorized !== null) page = html`<${SignIn} reason=${unauthorized} />`;
  else if (route.page === "workspace") page = html`<${Workspace} key=${route.project} project=${route.project} view=${view} setView=${setView} />`;
  else if (route.page === "run") page = html`<${RunPage} key=${route.project + "/" + route.run} project=${route.project} runId=${route.run} view=${view} setView=${setView} />`;
  else if (route.page === "artifacts") page = html`<${ArtifactsPage} key=${route.project} project=${route.project} />`;
  else if (route.page === "artifact") page = html`<${ArtifactPage} key=${route.project + "/" + route.artifact} project=${route.project} name=${route.artifact} version=${route.version} />`;
  else page = html`<${ProjectsPage} />`;
  return html`
    <div class="app">
      <header class="topbar"><a class="brand" href="/">runwatch</a></header>
      ${page}
    </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
