// The console: sign-in, then one screen whose state lives in the URL fragment. Every change
// goes through `apply`, which writes the fragment; the fragment's change runs the queries.
import * as api from './api.js';
import {$, h, clear, show, num} from './dom.js';
import * as S from './state.js';
import {showSignIn, initSignIn} from './signin.js';
import {initFilters, renderFilters, renderChips, advancedError} from './filters.js';
import {loadHistogram} from './histogram.js';
import {initTable, loadTable, renderColumns, initColumnAdd} from './table.js';
import {initRaw} from './rawjson.js';
import {loadTopValues} from './topvalues.js';
import {initViews, loadViews, markView} from './views.js';
import {initExport} from './export.js';
import {initEnrich, openEnrich} from './enrich.js';

let state = S.initial();
let who = null;
let current = {state, request: null};
let generation = 0;
let screen = null; // the AbortController of the screen's requests

function apply(changes) {
  const next = {...state, ...changes};
  const fragment = `#${S.toFragment(next)}`;
  if (fragment === location.hash) refresh();
  else location.hash = fragment;
}

function fail(error) {
  const banner = $('error');
  if (!error) {
    banner.hidden = true;
    return;
  }
  if (error.name === 'AbortError') return; // a newer screen replaced the request
  if (error.status === 400 && /search_term/.test(error.message)) advancedError(error.message);
  banner.textContent = error.requestId ? `${error.message} (request ${error.requestId})` : error.message;
  banner.hidden = false;
}

function renderRange(win) {
  for (const button of document.querySelectorAll('[data-range]')) {
    button.setAttribute('aria-pressed', String(button.dataset.range === state.range));
  }
  $('from').value = S.toInput(win.start, state.utc);
  $('to').value = S.toInput(win.end, state.utc);
  const zone = state.utc ? 'UTC' : `UTC${S.offset(false)}`;
  $('range-label').textContent = `${state.range ? `Last ${state.range} · ` : ''}`
    + `${S.formatTime(win.start, state.utc).slice(0, 19)} → ${S.formatTime(win.end, state.utc).slice(0, 19)} ${zone}`;
  $('tz').textContent = state.utc ? 'UTC' : 'Local time';
  // The exact instants asked, for anyone who wants to repeat the request elsewhere.
  $('range-label').dataset.start = win.start.toISOString();
  $('range-label').dataset.end = win.end.toISOString();
  $('range-label').title = `start_time ${win.start.toISOString()}, end_time ${win.end.toISOString()}`;
}

// Runs the screen's queries for the state in the URL.
async function refresh() {
  state = S.fromFragment(location.hash);
  if (who.all_organizations) {
    if (!state.org || !who.organizations.includes(state.org)) state.org = who.organizations[0] || '';
    $('org').value = state.org;
  }
  api.setOrganization(state.org, who.all_organizations);
  $('org-name').textContent = who.all_organizations ? '' : who.organizations[0];
  const run = ++generation;
  if (screen) screen.abort();
  screen = new AbortController();
  const signal = screen.signal;
  const win = S.timeWindow(state);
  renderRange(win);
  renderFilters(state);
  renderChips(state, (changes) => apply(changes));
  renderColumns(state, (changes) => apply(changes));
  $('stack').value = state.stack;
  markView(state.view);
  fail(null);
  let request;
  try {
    request = S.request(state, win);
    advancedError('');
  } catch (error) {
    advancedError(`Not valid JSON: ${error.message}`);
    return;
  }
  current = {state, request};
  $('total').textContent = '…';
  const narrow = (from, to) => apply({range: null, from: from.toISOString(), to: to.toISOString()});
  const work = [
    loadTable(request, state, signal),
    loadHistogram(request, win, state, narrow, signal).then((total) => {
      if (run === generation) $('total').textContent = num(total);
    }),
    loadTopValues(request, state, (changes) => apply(changes), signal),
  ];
  const results = await Promise.allSettled(work);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed && run === generation) fail(failed.reason);
  if (run === generation) document.body.dataset.loaded = String(run);
}

async function enter(me) {
  who = me;
  show($('signin'), false);
  show($('app'), true);
  const picker = $('org');
  clear(picker);
  for (const org of who.organizations) picker.append(h('option', {value: org}, org));
  show($('org-picker'), who.all_organizations);
  if (who.all_organizations && !who.organizations.length) {
    show($('app'), false);
    showSignIn('This key may open every organization, but the store holds no events yet.');
    return;
  }
  if (!location.hash) history.replaceState(null, '', `#${S.toFragment(S.initial())}`);
  state = S.fromFragment(location.hash);
  if (who.all_organizations && !who.organizations.includes(state.org)) state.org = who.organizations[0] || '';
  api.setOrganization(state.org, who.all_organizations);
  try {
    await loadViews(state.view);
  } catch (error) {
    fail(error);
  }
  await refresh();
}

function init() {
  initSignIn(enter);
  api.whenSignedOut((message) => {
    api.setKey(null);
    showSignIn(`Signed out: ${message}.`);
  });
  initFilters((changes) => apply(changes));
  initTable({
    error: fail,
    user: (name) => openEnrich('user', name, state),
    host: (name) => openEnrich('host', name, state),
  });
  initColumnAdd(() => state, (changes) => apply(changes));
  initRaw();
  initEnrich();
  initViews(() => state, (next) => {
    const fragment = `#${S.toFragment(next)}`;
    if (fragment === location.hash) refresh();
    else location.hash = fragment;
  }, fail);
  initExport(() => current, fail);
  for (const button of document.querySelectorAll('[data-range]')) {
    button.addEventListener('click', () => apply({range: button.dataset.range, from: null, to: null}));
  }
  $('absolute').addEventListener('submit', (event) => {
    event.preventDefault();
    const from = S.fromInput($('from').value, state.utc);
    const to = S.fromInput($('to').value, state.utc);
    if (!from || !to || from >= to) {
      fail(new Error('Give a start before the end.'));
      return;
    }
    apply({range: null, from, to});
  });
  $('stack').addEventListener('change', () => apply({stack: $('stack').value}));
  $('tz').addEventListener('click', () => apply({utc: !state.utc}));
  $('org').addEventListener('change', async () => {
    api.setOrganization($('org').value, true);
    await loadViews('').catch(fail);
    apply({org: $('org').value, view: ''});
  });
  $('signout').addEventListener('click', () => {
    api.setKey(null);
    showSignIn('');
  });
  window.addEventListener('hashchange', () => {
    if (who) refresh();
  });
  // "/" jumps to the text search, as in most log tools.
  document.addEventListener('keydown', (event) => {
    if (event.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName)) {
      event.preventDefault();
      $('f-q').focus();
    }
  });
  const key = api.key();
  if (!key) {
    showSignIn('');
    return;
  }
  api.me(key).then(enter).catch((error) => {
    api.setKey(null);
    showSignIn(error.status === 401 ? `This key was not accepted: ${error.message}.` : error.message);
  });
}

init();
