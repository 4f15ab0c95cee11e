// htm bound to Preact: the one way components write markup. Values interpolated into
// it are always text or attributes, never parsed as HTML.
import { h } from "./vendor/preact.js";
import htm from "./vendor/htm.js";

export const html = htm.bind(h);
