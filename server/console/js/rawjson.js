// An event's JSON: the exact text the engine stored (cut out of the page's response, not
// re-serialized, so numbers, escapes and key order are as they arrived), and a formatted view.
import {$} from './dom.js';

// The texts of a JSON array's elements, as written. The engine sends well-formed arrays, so
// this only has to follow strings (with escapes) and nesting.
export function arrayElements(text) {
  const out = [];
  let depth = 0;
  let inString = false;
  let begin = -1;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      if (depth === 1 && begin < 0) begin = i;
    } else if (c === '[' || c === '{') {
      if (depth === 1 && begin < 0) begin = i;
      depth += 1;
    } else if (c === ']' || c === '}') {
      depth -= 1;
      if (depth === 0 && begin >= 0) out.push(text.slice(begin, i).trim());
    } else if (c === ',' && depth === 1) {
      if (begin >= 0) out.push(text.slice(begin, i).trim());
      begin = -1;
    } else if (depth === 1 && begin < 0 && !/\s/.test(c)) {
      begin = i;
    }
  }
  return out;
}

let stored = '';

export function initRaw() {
  const dialog = $('raw');
  const tab = (pretty) => {
    $('raw-tab-pretty').setAttribute('aria-selected', String(pretty));
    $('raw-tab-stored').setAttribute('aria-selected', String(!pretty));
    $('raw-pretty').hidden = !pretty;
    $('raw-stored').hidden = pretty;
  };
  $('raw-tab-pretty').addEventListener('click', () => tab(true));
  $('raw-tab-stored').addEventListener('click', () => tab(false));
  $('raw-close').addEventListener('click', () => dialog.close());
  $('raw-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(stored);
      $('raw-copy').textContent = 'Copied';
    } catch (_) {
      // No clipboard permission (e.g. not a secure context): select the text instead.
      tab(false);
      window.getSelection().selectAllChildren($('raw-stored'));
      $('raw-copy').textContent = 'Selected; press Ctrl+C';
    }
  });
}

export function openRaw(event, text) {
  stored = text;
  $('raw-title').textContent = `${event.event_type || 'Event'} · ${event.id || ''}`;
  $('raw-pretty').textContent = JSON.stringify(event, null, 2);
  $('raw-stored').textContent = text;
  $('raw-copy').textContent = 'Copy as stored';
  $('raw-tab-pretty').click();
  $('raw').showModal();
  $('raw-pretty').focus();
}
