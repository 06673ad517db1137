// The enrichment panel: GET /api/v1/enrich/user/{who} or /host/{which}, drawn as sections.
// A list that shows fewer entries than the report's `totals` says so ("25 of 280").
import * as api from './api.js';
import {$, h, clear, num} from './dom.js';
import {formatTime} from './state.js';

let options = {utc: false};
let asked = 0;

export function initEnrich() {
  $('enrich-close').addEventListener('click', () => $('enrich').close());
}

export async function openEnrich(kind, who, state) {
  options = state;
  const mine = ++asked;
  const body = clear($('enrich-body'));
  $('enrich-title').textContent = `${kind === 'user' ? 'User' : 'Host'} ${who}`;
  body.append(h('p', {className: 'muted'}, 'Loading…'));
  if (!$('enrich').open) $('enrich').showModal();
  try {
    const report = await api.enrich(kind, who);
    if (mine !== asked) return; // a newer panel was asked for meanwhile
    clear(body);
    (kind === 'user' ? renderUser : renderHost)(report, body);
  } catch (error) {
    if (mine !== asked) return;
    clear(body).append(h('p', {className: 'error', role: 'alert'}, error.message));
  }
}

const time = (value) => (value ? formatTime(value, options.utc) : '');

function facts(pairs) {
  return h('dl', {className: 'facts'}, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v instanceof Node ? v : String(v))]));
}

function section(title, ...content) {
  return h('section', {className: 'enrich-section'}, h('h3', {}, title), ...content);
}

// A list heading with its total when the list is cut: "Users (25 of 280)".
function heading(title, shown, total) {
  return total !== undefined && total > shown ? `${title} (${num(shown)} of ${num(total)})`
    : `${title} (${num(shown)})`;
}

function tallies(title, items, total, link) {
  if (!items.length) return null;
  const rows = items.map((t) => h('tr', {},
    h('td', {}, link ? h('button', {type: 'button', className: 'link', onclick: () => link(t.value)}, t.value)
      : t.value),
    h('td', {className: 'num'}, num(t.count)), h('td', {}, t.detail || ''),
    h('td', {className: 'time'}, time(t.first_seen)), h('td', {className: 'time'}, time(t.last_seen))));
  return section(heading(title, items.length, total), h('table', {className: 'compact'},
    h('thead', {}, h('tr', {}, ['value', 'events', 'detail', 'first seen', 'last seen']
      .map((c) => h('th', {scope: 'col'}, c)))), h('tbody', {}, rows)));
}

function changes(title, items, total) {
  if (!items.length) return null;
  return section(heading(title, items.length, total), h('ul', {className: 'changes'}, items.map((c) =>
    h('li', {}, h('span', {className: 'time'}, time(c.time)), ' ', h('strong', {}, c.event_type), ' ',
      c.party, c.changes !== null ? h('code', {}, JSON.stringify(c.changes)) : ''))));
}

function seen(map) {
  return Object.entries(map || {}).map(([service, s]) =>
    h('li', {}, `${service}: ${time(s.time)} · ${s.event_type}${s.client_ip ? ` from ${s.client_ip}` : ''}`));
}

function renderUser(r, body) {
  const t = r.totals || {};
  body.append(
    facts([['id', r.id], ['username', r.username], ['e-mail', r.email], ['state', r.state],
      ['since', time(r.state_since)], ['MFA seen', r.mfa_seen ? 'yes' : 'no'],
      ['events', num(r.events)], ['failures 24 h', num(r.failures_24h)],
      ['failures 7 d', num(r.failures_7d)], ['window', `${r.window_days} days to ${time(r.at)}`]]),
    r.signals.length ? section('Signals', h('ul', {className: 'signals'}, r.signals.map((s) => h('li', {}, s)))) : null,
    Object.keys(r.last_success).length ? section('Last logins', h('ul', {}, seen(r.last_success))) : null,
    Object.keys(r.last_failure).length ? section('Last failures', h('ul', {}, seen(r.last_failure))) : null,
    tallies('IPs', r.client_ips, t.client_ips),
    tallies('Countries', r.countries, t.countries),
    tallies('Devices', r.devices, t.devices, (host) => openEnrich('host', host, options)),
    tallies('Applications', r.applications, t.applications),
    Object.keys(r.attributes).length ? section('Attributes', facts(Object.entries(r.attributes)
      .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))) : null,
    changes('Changes to the user', r.changes_to_user, t.changes_to_user),
    changes('Changes by the user', r.changes_by_user, t.changes_by_user),
  );
}

function renderHost(r, body) {
  const t = r.totals || {};
  body.append(
    facts([['id', r.id], ['hostname', r.hostname], ['display name', r.display_name], ['OS', r.os],
      ['events', num(r.events)], ['failed logins', num(r.failed_logins)],
      ['last failed login', r.last_failed_login
        ? `${time(r.last_failed_login.time)}${r.last_failed_login.client_ip ? ` from ${r.last_failed_login.client_ip}` : ''}`
        : ''],
      ['last activity', time(r.last_activity)], ['window', `${r.window_days} days to ${time(r.at)}`]]),
    tallies('Users', r.users, t.users, (user) => openEnrich('user', user, options)),
    tallies('Source IPs', r.source_ips, t.source_ips),
    changes('Commands', r.commands, t.commands),
    changes('MDM results', r.mdm_results, t.mdm_results),
    changes('Admin changes', r.admin_changes, t.admin_changes),
  );
}
