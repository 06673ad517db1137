// Top values of the current filter, from POST /events/distinct: a click adds the value as a
// filter.
import * as api from './api.js';
import {$, h, clear, num} from './dom.js';

const SHOWN = 8;

// The fields shown, and the filter a value becomes.
const FIELDS = [
  {field: 'username', title: 'Users', filter: (v) => ({user: v})},
  {field: 'client_ip', title: 'IPs', filter: (v) => ({ip: v})},
  {field: 'event_type', title: 'Event types',
    filter: (v, s) => ({eventTypes: s.eventTypes.includes(v) ? s.eventTypes : [...s.eventTypes, v]})},
  {field: 'geoip.country_code', title: 'Countries', filter: (v) => ({country: v.toUpperCase()})},
];

export async function loadTopValues(request, state, apply, signal) {
  const aside = clear($('top'));
  const sections = FIELDS.map((spec) => {
    const list = h('ol', {className: 'values'}, h('li', {className: 'muted'}, 'Loading…'));
    aside.append(h('section', {className: 'top-field', dataset: {field: spec.field}},
      h('h3', {}, spec.title), list));
    return list;
  });
  await Promise.all(FIELDS.map(async (spec, i) => {
    const answer = await api.distinct({...request, field: spec.field}, signal);
    if (signal.aborted) return;
    const list = clear(sections[i]);
    if (spec.field === 'event_type') {
      // The event types of the range, offered as the event type filter's suggestions.
      $('event-type-list').replaceChildren(...answer.buckets.slice(0, 200)
        .map((b) => h('option', {value: b.key})));
    }
    const buckets = answer.buckets.slice(0, SHOWN);
    if (!buckets.length) list.append(h('li', {className: 'muted'}, 'none'));
    for (const bucket of buckets) {
      list.append(h('li', {}, h('button', {type: 'button', className: 'value',
        title: `Filter on ${spec.field} = ${bucket.key}`,
        onclick: () => apply(spec.filter(bucket.key, state))},
      h('span', {className: 'key'}, bucket.key), h('span', {className: 'count'}, num(bucket.doc_count)))));
    }
    const others = answer.buckets.length - buckets.length;
    if (others > 0) list.append(h('li', {className: 'muted'}, `${num(others)} more values`));
  }));
}
