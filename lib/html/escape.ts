const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/**
 * Text made safe for HTML, in element content and in quoted attribute values alike: `& < > " '` become
 * entities. Every value the plugin's pages show goes through it; an app's own pages (the `pages` option)
 * should use it too.
 */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] as string)
}
