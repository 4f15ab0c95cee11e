// The server requires API keys and this browser has none (or a revoked one): ask for one.

import { useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { signIn } from "../api.js";

export function SignIn({ reason }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
      location.reload();
    } catch (e) {
      setError(e.message);
      setBusy(false);
    }
  };
  return html`
    <main class="sign-in">
      <h1>Sign in</h1>
      <p>This runwatch server needs an API key. An admin creates one on the server with
        <code>runwatch keys create NAME</code>.</p>
      ${reason ? html`<p class="muted">${reason}</p>` : null}
      <form onSubmit=${submit}>
        <label>API key
          <input type="password" name="key" autocomplete="current-password" required
            placeholder="rw_..." value=${key} onInput=${(e) => setKey(e.target.value)} /></label>
        <button type="submit" disabled=${busy || !key.trim()}>Sign in</button>
      </form>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </main>`;
}
