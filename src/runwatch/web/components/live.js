// Runs that stay current: loaded once, then patched by the server's event stream.

import { useEffect, useRef, useState } from "../vendor/hooks.js";
import { api, subscribe } from "../api.js";
import { colorOf } from "../lib/colors.js";
import { flatten } from "../lib/format.js";

export function prepareRun(run) {
  return { ...run, flatConfig: flatten(run.config), flatSummary: flatten(run.summary), color: colorOf(run.id) };
}

// {runs, keys, error, live, loaded} for a project. onlyRun limits keys to one run.
export function useProjectRuns(project, onlyRun) {
  const [runs, setRuns] = useState([]);
  const [keys, setKeys] = useState([]);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const keysAt = useRef(0);

  useEffect(() => {
    let alive = true;
    const ctl = new AbortController();
    const loadKeys = () => {
      keysAt.current = Date.now();
      api.keys(project, onlyRun ? [onlyRun] : null, ctl.signal)
        .then((k) => alive && setKeys(k.keys)).catch(() => {});
    };
    const loadAll = () => {
      api.runs(project, ctl.signal).then((res) => {
        if (!alive) return;
        setRuns(res.runs.map(prepareRun));
        setError(null);
        setLoaded(true);
      }).catch((e) => { if (alive && e.name !== "AbortError") { setError(e); setLoaded(true); } });
      loadKeys();
    };
    // Subscribe first and load on "ready": nothing that happens in between is missed,
    // and a reconnect reloads whatever changed while the stream was down.
    const stop = subscribe(project, (kind, data) => {
      if (!alive) return;
      if (kind === "ready") loadAll();
      if (kind === "runs") {
        const changed = new Map(data.runs.map((r) => [r.id, prepareRun(r)]));
        setRuns((old) => {
          const next = old.map((r) => changed.get(r.id) || r);
          const have = new Set(old.map((r) => r.id));
          for (const [id, r] of changed) if (!have.has(id)) next.push(r);
          return next;
        });
        if (Date.now() - keysAt.current > 3000) loadKeys();
      }
    }, (ok) => {
      setLive(ok);
      // The stream cannot open (no such project, server gone): load anyway, so the
      // page shows the reason instead of waiting.
      if (!ok && !triedDirect) { triedDirect = true; loadAll(); }
    });
    let triedDirect = false;
    return () => { alive = false; ctl.abort(); stop(); };
  }, [project, onlyRun]);

  return { runs, keys, error, live, loaded };
}
