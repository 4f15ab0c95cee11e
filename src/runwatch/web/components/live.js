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
    let loading = null;
    const loadKeys = () => {
      keysAt.current = Date.now();
      api.keys(project, onlyRun ? [onlyRun] : null, ctl.signal)
        .then((k) => alive && setKeys(k.keys)).catch(() => {});
    };
    const loadRuns = () => {
      loading = api.runs(project, ctl.signal).then((res) => {
        if (!alive) return null;
        setRuns(res.runs.map(prepareRun));
        setError(null);
        setLoaded(true);
        return res.runs;
      }).catch((e) => {
        if (alive && e.name !== "AbortError") { setError(e); setLoaded(true); }
        return null;
      });
      return loading;
    };
    // Load at once, and open the live stream alongside. The stream's "ready" says what
    // its first look saw; if the loaded runs are older than that, something changed in
    // between, so load again. After that, events carry every change.
    loadRuns();
    loadKeys();
    let readyOnce = false;
    const stop = subscribe(project, (kind, data) => {
      if (!alive) return;
      if (kind === "ready") {
        const seen = data.runs || {};
        const first = !readyOnce;
        readyOnce = true;
        (loading || loadRuns()).then((got) => {
          if (!alive || !got) return;
          const have = new Map(got.map((r) => [r.id, [r.seq, r.state]]));
          const stale = Object.entries(seen).some(([id, [seq, state]]) => {
            const h = have.get(id);
            return !h || h[0] < seq || h[1] !== state;
          });
          // A reconnect may have missed anything: always reload then.
          if (stale || !first) { loadRuns(); loadKeys(); }
        });
      }
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
    }, setLive);
    return () => { alive = false; ctl.abort(); stop(); };
  }, [project, onlyRun]);

  return { runs, keys, error, live, loaded };
}
