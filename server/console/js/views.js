// Saved views (/api/v1/views): the current range and filters under a name, with a relative
// range if asked; list, open, update, delete.
import * as api from './api.js';
import {$, h} from './dom.js';
import {toView, fromView} from './state.js';

let known = [];

export function initViews(getState, open, fail) {
  $('view-select').addEventListener('change', () => {
    const view = known.find((v) => v.name === $('view-select').value);
    if (view) open(fromView(view, getState()));
  });
  $('view-save').addEventListener('click', () => {
    const state = getState();
    $('save-name').value = state.view || '';
    $('save-description').value = (known.find((v) => v.name === state.view) || {}).description || '';
    $('save-range').textContent = state.range ? `last ${state.range}` : 'absolute range';
    $('save-relative').disabled = !state.range;
    $('save-relative').checked = Boolean(state.range);
    $('save-error').hidden = true;
    $('save-dialog').showModal();
  });
  $('save-cancel').addEventListener('click', () => $('save-dialog').close());
  $('save-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const state = getState();
    const name = $('save-name').value.trim();
    const replace = known.some((v) => v.name === name);
    try {
      await api.saveView(toView(state, name, $('save-description').value.trim(),
        $('save-relative').checked), replace);
      $('save-dialog').close();
      await loadViews(name);
      open({...state, view: name});
    } catch (error) {
      $('save-error').textContent = error.message;
      $('save-error').hidden = false;
    }
  });
  $('view-update').addEventListener('click', async () => {
    const state = getState();
    const view = known.find((v) => v.name === state.view);
    if (!view) return;
    try {
      await api.saveView(toView(state, view.name, view.description, Boolean(view.range)), true);
      await loadViews(view.name);
    } catch (error) {
      fail(error);
    }
  });
  $('view-delete').addEventListener('click', async () => {
    const state = getState();
    if (!state.view || !window.confirm(`Delete the view ${state.view}?`)) return;
    try {
      await api.deleteView(state.view);
      await loadViews('');
      open({...state, view: ''});
    } catch (error) {
      fail(error);
    }
  });
}

// Lists the organization's views, `selected` chosen.
export async function loadViews(selected) {
  known = await api.views();
  const select = $('view-select');
  select.replaceChildren(h('option', {value: ''}, 'Saved views…'));
  for (const view of known) {
    select.append(h('option', {value: view.name, title: view.description || ''},
      view.range ? `${view.name} (${view.range})` : view.name));
  }
  markView(selected);
}

export function markView(name) {
  const exists = known.some((v) => v.name === name);
  $('view-select').value = exists ? name : '';
  $('view-update').disabled = !exists;
  $('view-delete').disabled = !exists;
}
