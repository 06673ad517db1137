// The filter bar, its chips and the search_term editor. The form edits a copy of the state;
// Apply (or Enter) hands the new filters to `apply`.
import {$, h, clear} from './dom.js';
import {SERVICES} from './state.js';

const split = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

export function initFilters(apply) {
  const options = $('service-options');
  for (const service of SERVICES) {
    options.append(h('label', {}, h('input', {type: 'checkbox', value: service}), ` ${service}`));
  }
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    const advanced = $('f-advanced').value.trim();
    if (!checkAdvanced(advanced)) return;
    apply({
      services: [...options.querySelectorAll('input:checked')].map((i) => i.value),
      eventTypes: split($('f-event-types').value),
      outcome: $('f-outcome').value,
      user: $('f-user').value.trim(),
      ip: $('f-ip').value.trim(),
      host: $('f-host').value.trim(),
      q: $('f-q').value.trim(),
      advanced,
    });
  });
  $('f-advanced').addEventListener('input', () => checkAdvanced($('f-advanced').value.trim()));
  // Ctrl+Enter in the editor applies, as Enter does in the inputs.
  $('f-advanced').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $('filters').requestSubmit();
    }
  });
}

// Shows a JSON mistake under the editor as it is typed; true when the text may be sent.
export function checkAdvanced(text) {
  if (!text) {
    advancedError('');
    return true;
  }
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      advancedError('search_term must be a JSON object such as {"and": [{"service": "sso"}]}');
      return false;
    }
    advancedError('');
    return true;
  } catch (error) {
    advancedError(`Not valid JSON: ${error.message}`);
    return false;
  }
}

export function advancedError(message) {
  const el = $('advanced-error');
  el.textContent = message;
  el.hidden = !message;
  if (message) $('advanced').open = true;
}

// The form shows the state's filters.
export function renderFilters(state) {
  for (const input of $('service-options').querySelectorAll('input')) {
    input.checked = state.services.includes(input.value);
  }
  $('f-event-types').value = state.eventTypes.join(', ');
  $('f-outcome').value = state.outcome;
  $('f-user').value = state.user;
  $('f-ip').value = state.ip;
  $('f-host').value = state.host;
  $('f-q').value = state.q;
  $('f-advanced').value = state.advanced;
  if (state.advanced) $('advanced').open = true;
}

// One removable chip per active filter; removing one applies at once.
export function renderChips(state, apply) {
  const chips = clear($('chips'));
  const chip = (label, without) => chips.append(h('span', {className: 'chip'}, label,
    h('button', {type: 'button', className: 'chip-remove', ariaLabel: `Remove filter ${label}`,
      title: 'Remove', onclick: () => apply(without)}, '×')));
  for (const service of state.services) {
    chip(`service: ${service}`, {services: state.services.filter((s) => s !== service)});
  }
  for (const type of state.eventTypes) {
    chip(`event type: ${type}`, {eventTypes: state.eventTypes.filter((t) => t !== type)});
  }
  if (state.outcome) chip(`outcome: ${state.outcome}`, {outcome: ''});
  if (state.user) chip(`user: ${state.user}`, {user: ''});
  if (state.ip) chip(`IP: ${state.ip}`, {ip: ''});
  if (state.host) chip(`host: ${state.host}`, {host: ''});
  if (state.country) chip(`country: ${state.country}`, {country: ''});
  if (state.q) chip(`text: ${state.q}`, {q: ''});
  if (state.advanced) chip(`search_term: ${state.advanced}`, {advanced: ''});
}
