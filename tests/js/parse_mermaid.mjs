// Parse mermaid diagrams with the mermaid package's own parser, headless.
// stdin: a JSON array of diagram sources; stdout: a JSON array of {ok, type} or {ok: false, error}.
// mermaid's flowchart code wants a DOM (DOMPurify) even to parse, so jsdom provides one.
import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

const sources = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const source of sources) {
  try {
    const parsed = await mermaid.parse(source);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String((error && error.message) || error) });
  }
}
console.log(JSON.stringify(results));
