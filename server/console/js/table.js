// The events table: pages of 100 from POST /events, newest first, the next page asked with the
// previous page's X-Search_after when the end of the table scrolls into view. A row opens the
// event's JSON; an actor opens the user's enrichment, a host the host's.
import * as api from './api.js';
import {$, h, clear, num} from './dom.js';
import {DEFAULT_COLUMNS, formatTime} from './state.js';
import {arrayElements, openRaw} from './rawjson.js';

export const PAGE = 100;

const get = (event, path) => path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), event);
const text = (value) => (value === undefined || value === null ? ''
  : typeof value === 'object' ? JSON.stringify(value) : String(value));

function actor(event) {
  return get(event, 'initiated_by.username') || event.username || get(event, 'initiated_by.email')
    || get(event, 'initiated_by.name') || '';
}

// What the event acted on: a directory object, an application, or a device.
function target(event) {
  const resource = event.resource || {};
  const name = resource.name || resource.displayName || resource.username || resource.email;
  if (name || resource.id) {
    return {text: name || resource.id, host: resource.type === 'system' ? name || resource.id : null};
  }
  const app = get(event, 'application.name') || get(event, 'application.display_label');
  if (app) return {text: app, host: null};
  const host = get(event, 'system.hostname');
  if (host) return {text: host, host};
  return {text: '', host: null};
}

function outcome(event) {
  const success = event.success ?? event.sso_token_success;
  return success === true ? 'success' : success === false ? 'failure' : '';
}

// The built-in columns: heading, and the DI dot paths a CSV export gives for it.
export const COLUMNS = {
  time: {head: 'Time', paths: ['timestamp']},
  service: {head: 'Service', paths: ['service']},
  event_type: {head: 'Event type', paths: ['event_type']},
  actor: {head: 'Actor', paths: ['initiated_by.username', 'username', 'initiated_by.email']},
  target: {head: 'Target', paths: ['resource.type', 'resource.name', 'application.name',
    'system.hostname']},
  ip: {head: 'IP', paths: ['client_ip']},
  country: {head: 'Country', paths: ['geoip.country_code']},
  outcome: {head: 'Outcome', paths: ['success', 'sso_token_success']},
};

let run = null; // the query whose pages are shown: {request, after, done, loading, ids}
let handlers = {};

export function initTable(on) {
  handlers = on;
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) more();
  }, {root: null, rootMargin: '200px'}).observe($('sentinel'));
  $('more').addEventListener('click', () => {
    if (run) run.failed = false;
    more();
  });
}

// Starts the table over for a new request; resolves once the first page is shown. `signal`
// aborts its requests when a newer screen replaces it.
export async function loadTable(request, state, signal) {
  run = {request, after: null, done: false, failed: false, loading: null, rows: 0, state, signal};
  renderHead(state);
  clear($('events-body'));
  $('rows-status').textContent = 'Loading…';
  await more();
}

function renderHead(state) {
  const head = clear($('events-head'));
  for (const column of state.columns) {
    head.append(h('th', {scope: 'col'}, Object.hasOwn(COLUMNS, column) ? COLUMNS[column].head : column));
  }
}

async function more() {
  const current = run;
  if (!current || current.done || current.failed) return;
  if (current.loading) return current.loading;
  current.loading = (async () => {
    const body = {...current.request, sort: 'DESC', limit: PAGE};
    if (current.after) body.search_after = current.after;
    const page = await api.events(body, current.signal);
    if (current !== run) return;
    const texts = arrayElements(page.text);
    const rows = [];
    for (const raw of texts) {
      const event = JSON.parse(raw);
      rows.push(row(event, raw, current.state));
    }
    $('events-body').append(...rows);
    current.rows += texts.length;
    current.after = page.searchAfter;
    current.done = texts.length < PAGE;
    $('rows-status').textContent = current.done
      ? `${num(current.rows)} events, all shown`
      : `${num(current.rows)} events shown; scroll for more`;
    $('more').hidden = current.done;
  })();
  try {
    await current.loading;
  } catch (error) {
    // A failed page stops the scrolling until the user asks again (Load more, or a new screen).
    current.failed = true;
    $('more').hidden = false;
    if (current === run) handlers.error(error);
  } finally {
    current.loading = null;
  }
  // Still room on the screen: keep going.
  if (current === run && !current.done) {
    const box = $('sentinel').getBoundingClientRect();
    if (box.top < window.innerHeight + 200) return more();
  }
}

function cell(column, event, state) {
  switch (column) {
    case 'time': return h('td', {className: 'time'}, formatTime(event.timestamp, state.utc));
    case 'service': return h('td', {}, event.service || '');
    case 'event_type': return h('td', {}, event.event_type || '');
    case 'actor': {
      const who = actor(event);
      return h('td', {}, who ? h('button', {type: 'button', className: 'link',
        title: `Enrich user ${who}`, onclick: (e) => { e.stopPropagation(); handlers.user(who); }},
      who) : '');
    }
    case 'target': {
      const t = target(event);
      return h('td', {}, t.host ? h('button', {type: 'button', className: 'link',
        title: `Enrich host ${t.host}`, onclick: (e) => { e.stopPropagation(); handlers.host(t.host); }},
      t.text) : t.text);
    }
    case 'ip': return h('td', {}, event.client_ip || '');
    case 'country': return h('td', {}, get(event, 'geoip.country_code') || '');
    case 'outcome': {
      const o = outcome(event);
      return h('td', {className: o}, o);
    }
    default: return h('td', {}, text(get(event, column)));
  }
}

function row(event, raw, state) {
  const tr = h('tr', {tabIndex: 0, dataset: {id: event.id || ''},
    onclick: () => openRaw(event, raw),
    onkeydown: (e) => { if (e.key === 'Enter' && e.target === tr) openRaw(event, raw); }},
  state.columns.map((column) => cell(column, event, state)));
  return tr;
}

// The column chooser: the built-in columns on or off, and any dot path added.
export function renderColumns(state, apply) {
  const options = clear($('column-options'));
  const all = [...DEFAULT_COLUMNS, ...state.columns.filter((c) => !Object.hasOwn(COLUMNS, c))];
  for (const column of all) {
    const checkbox = h('input', {type: 'checkbox', checked: state.columns.includes(column),
      onchange: () => {
        const chosen = all.filter((c) => (c === column ? checkbox.checked : state.columns.includes(c)));
        apply({columns: chosen});
      }});
    options.append(h('label', {}, checkbox, ` ${Object.hasOwn(COLUMNS, column) ? COLUMNS[column].head : column}`));
  }
}

export function initColumnAdd(getState, apply) {
  $('column-add').addEventListener('submit', (event) => {
    event.preventDefault();
    const path = $('column-path').value.trim();
    if (!/^[A-Za-z0-9_@-]+(\.[A-Za-z0-9_@-]+)*$/.test(path)) {
      $('column-path').setCustomValidity('a dot path such as useragent.os');
      $('column-path').reportValidity();
      return;
    }
    $('column-path').setCustomValidity('');
    $('column-path').value = '';
    const state = getState();
    if (!state.columns.includes(path)) apply({columns: [...state.columns, path]});
  });
}
