// The export menu: the whole result, no row cap, streamed by the server straight into the
// browser's download. A link is asked for first (POST /api/v1/export/link, with the key); the
// link itself is single-use and lasts a minute, so no credential sits in a URL for long.
import * as api from './api.js';
import {$, h} from './dom.js';
import {COLUMNS} from './table.js';

export function initExport(current, fail) {
  for (const button of $('export-menu').querySelectorAll('button[data-format]')) {
    button.addEventListener('click', async () => {
      const {state, request} = current();
      const format = button.dataset.format;
      const body = {...request};
      // CSV: the event's id, then the chosen columns as the DI dot paths they show.
      if (format === 'csv') {
        const paths = ['id', ...state.columns.flatMap((c) => (Object.hasOwn(COLUMNS, c) ? COLUMNS[c].paths : [c]))];
        body.fields = [...new Set(paths)];
      }
      $('export-status').textContent = 'Starting…';
      try {
        const link = await api.exportLink(body, format, $('export-gzip').checked);
        const a = h('a', {href: link.url, download: '', hidden: true});
        document.body.append(a);
        a.click();
        a.remove();
        $('export-status').textContent = 'Download started.';
      } catch (error) {
        $('export-status').textContent = '';
        fail(error);
      }
    });
  }
}
