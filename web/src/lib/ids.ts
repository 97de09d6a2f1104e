// uuid makes a random UUID v4: crypto.randomUUID where the page is a secure context (HTTPS,
// localhost), else the same from crypto.getRandomValues (a plain-HTTP intranet address).
export function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

// contentKey is an Idempotency-Key made from a request body: the same body always gets the same
// key (so a retry replays the first answer), another body another key. SHA-256 where the page
// is a secure context; a random UUID otherwise (client ids still keep visits from doubling).
export async function contentKey(prefix: string, body: string): Promise<string> {
  if (!crypto.subtle) return `${prefix}-${uuid()}`
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))
  return `${prefix}-${Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, '0')).join('')}`
}
