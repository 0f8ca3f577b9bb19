// `Warning` response headers (RFC 7234 §5.5, as k8s.io/apiserver's warning recorder writes them). Warnings quote what
// clients sent — unknown field names above all — so their text can hold anything, and Node refuses header values
// with characters outside Latin-1 or with control characters by throwing. The warnings are set after the write is
// committed, where a throw would answer 500 for a stored object; so every text is made writable here instead.

/** One header value per distinct warning: `299 - "text"`. */
export function warningHeaders(warnings: readonly string[]): string[] {
  return [...new Set(warnings)].map((text) => `299 - "${headerText(text)}"`);
}

// Go's header writer turns CR and LF into spaces; the other control characters it passes on, which Node cannot.
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

/**
 * The text quoted (backslash before `"` and `\`), without control characters, and as its UTF-8 bytes: Node writes a
 * header string one byte per character, so the bytes on the wire are UTF-8, as kube-apiserver sends them.
 */
function headerText(text: string): string {
  const quoted = text.replace(CONTROL_CHARACTERS, ' ').replace(/["\\]/g, '\\$&');
  return Buffer.from(quoted, 'utf8').toString('latin1');
}
