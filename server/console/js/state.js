// The console's state — range, filters, columns, stacking, time zone, organization — and its
// two forms: the URL fragment (so a link reproduces the view; the fragment never reaches a
// server log) and the DI request the engine answers.

export const PRESETS = {'15m': 15 * 60e3, '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3,
  '30d': 30 * 86400e3, '90d': 90 * 86400e3};

export const SERVICES = ['access_management', 'alerts', 'asset_management', 'directory', 'ldap',
  'mdm', 'notifications', 'object_storage', 'password_manager', 'radius', 'reports',
  'saas_app_management', 'software', 'sso', 'systems'];

// The default columns: a name, its heading, and the DI dot path(s) it shows.
export const DEFAULT_COLUMNS = ['time', 'service', 'event_type', 'actor', 'target', 'ip',
  'country', 'outcome'];

export function initial() {
  return {
    range: '24h', // a preset, or null with from/to
    from: null, // ISO times of an absolute range
    to: null,
    services: [],
    eventTypes: [],
    outcome: '', // '', 'success' or 'failure'
    user: '',
    ip: '',
    host: '',
    country: '',
    q: '',
    advanced: '', // search_term JSON text, and-ed with the rest
    columns: [...DEFAULT_COLUMNS],
    stack: 'service',
    utc: false,
    org: '',
    view: '',
  };
}

const LISTS = ['services', 'eventTypes', 'columns'];
const TEXTS = ['range', 'from', 'to', 'outcome', 'user', 'ip', 'host', 'country', 'q',
  'advanced', 'stack', 'org', 'view'];

export function toFragment(state) {
  const params = new URLSearchParams();
  const defaults = initial();
  for (const name of TEXTS) {
    const value = state[name] ?? '';
    if (value !== (defaults[name] ?? '')) params.set(name, value);
  }
  if (!state.range && !params.has('range')) params.set('range', '');
  for (const name of LISTS) {
    const value = state[name].join(',');
    if (value !== defaults[name].join(',')) params.set(name, value);
  }
  if (state.utc) params.set('utc', '1');
  return params.toString();
}

export function fromFragment(fragment) {
  const state = initial();
  const params = new URLSearchParams(fragment.replace(/^#/, ''));
  for (const name of TEXTS) {
    if (params.has(name)) state[name] = params.get(name);
  }
  const valid = (text) => Boolean(text) && !Number.isNaN(new Date(text).getTime());
  if (!Object.hasOwn(PRESETS, state.range)) {
    // An absolute range needs a valid start (and a valid end, or none for "until now").
    const absolute = valid(state.from) && (!state.to || valid(state.to));
    state.range = absolute ? null : '24h';
    if (!absolute) {
      state.from = null;
      state.to = null;
    }
  }
  if (!['service', 'success'].includes(state.stack)) state.stack = 'service';
  for (const name of LISTS) {
    if (params.has(name)) state[name] = params.get(name).split(',').filter(Boolean);
  }
  state.utc = params.get('utc') === '1';
  return state;
}

// The instants a state covers, fixed when a query starts so every page of it asks the same.
export function timeWindow(state, now = Date.now()) {
  if (state.range) return {start: new Date(now - PRESETS[state.range]), end: new Date(now)};
  return {start: new Date(state.from), end: state.to ? new Date(state.to) : new Date(now)};
}

// The search_term of the filters, or undefined; throws a SyntaxError for bad advanced JSON.
export function searchTerm(state) {
  const terms = [];
  if (state.eventTypes.length) terms.push({event_type: state.eventTypes});
  if (state.outcome) terms.push({success: state.outcome === 'success'});
  if (state.user) terms.push({username: state.user});
  if (state.ip) terms.push({client_ip: state.ip});
  if (state.host) terms.push({'system.hostname': state.host});
  if (state.country) terms.push({'geoip.country_code': state.country});
  if (state.advanced.trim()) terms.push(JSON.parse(state.advanced));
  return terms.length ? {and: terms} : undefined;
}

// The DI request of a state over a fixed window.
export function request(state, win) {
  const body = {
    service: state.services.length ? state.services : ['all'],
    start_time: win.start.toISOString(),
    end_time: win.end.toISOString(),
  };
  const term = searchTerm(state);
  if (term) body.search_term = term;
  if (state.q.trim()) body.q = state.q.trim();
  return body;
}

// Event types the filter can show: non-empty strings without commas (the URL joins them).
function eventTypes(value) {
  const list = Array.isArray(value) ? value : [value];
  const fine = list.length > 0 && list.every((t) => typeof t === 'string' && t && !t.includes(','));
  return fine ? list : null;
}

// A saved view of a state: the DI request, its range relative ("last 7d") if asked.
export function toView(state, name, description, relative) {
  const view = {name, description, request: request(state, timeWindow(state))};
  if (relative && state.range) {
    view.range = `last ${state.range}`;
  }
  return view;
}

// The state a saved view stands for. Search terms the filters cannot show go to the
// advanced editor, so nothing of the view is lost.
export function fromView(view, base) {
  const state = {...initial(), columns: base.columns, stack: base.stack, utc: base.utc,
    org: base.org, view: view.name};
  const req = view.request || {};
  const relative = /^last\s+(\d+[mhd])$/.exec(view.range || '');
  if (relative && Object.hasOwn(PRESETS, relative[1])) {
    state.range = relative[1];
  } else {
    state.range = null;
    state.from = req.start_time || null;
    state.to = req.end_time || null;
  }
  const services = Array.isArray(req.service) ? req.service : [req.service].filter(Boolean);
  state.services = services.filter((s) => s !== 'all');
  state.q = req.q || '';
  const rest = [];
  const term = req.search_term;
  const parts = term && Array.isArray(term.and) && Object.keys(term).length === 1 ? term.and
    : term ? [term] : [];
  for (const part of parts) {
    const keys = Object.keys(part);
    const value = part[keys[0]];
    if (keys.length !== 1) {
      rest.push(part);
    } else if (keys[0] === 'event_type' && !state.eventTypes.length && eventTypes(value)) {
      state.eventTypes = eventTypes(value);
    } else if (keys[0] === 'success' && typeof value === 'boolean' && !state.outcome) {
      state.outcome = value ? 'success' : 'failure';
    } else if (keys[0] === 'username' && typeof value === 'string' && !state.user) {
      state.user = value;
    } else if (keys[0] === 'client_ip' && typeof value === 'string' && !state.ip) {
      state.ip = value;
    } else if (keys[0] === 'system.hostname' && typeof value === 'string' && !state.host) {
      state.host = value;
    } else if (keys[0] === 'geoip.country_code' && typeof value === 'string' && !state.country) {
      state.country = value;
    } else {
      rest.push(part);
    }
  }
  if (rest.length === 1) state.advanced = JSON.stringify(rest[0]);
  else if (rest.length > 1) state.advanced = JSON.stringify({and: rest});
  return state;
}

// Histogram buckets for a window: the smallest width that gives at most about 90 bars.
const WIDTHS = [[1, 's', 1e3], [5, 's', 5e3], [10, 's', 10e3], [30, 's', 30e3], [1, 'm', 60e3],
  [5, 'm', 300e3], [10, 'm', 600e3], [30, 'm', 1800e3], [1, 'h', 3600e3], [3, 'h', 10800e3],
  [6, 'h', 21600e3], [12, 'h', 43200e3], [1, 'd', 86400e3], [1, 'w', 7 * 86400e3]];

export function bucketWidth(win) {
  const span = win.end - win.start;
  const found = WIDTHS.find(([, , ms]) => span / ms <= 90) || WIDTHS[WIDTHS.length - 1];
  return {value: found[0], unit: found[1], ms: found[2]};
}

// "+01:00" for this browser's zone now, or "Z".
export function offset(utc) {
  if (utc) return 'Z';
  const minutes = -new Date().getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

// "2026-12-06 14:03:27.123" in UTC or local time.
export function formatTime(value, utc) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value ?? '');
  const parts = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(),
      d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(),
      d.getMilliseconds()];
  const [y, mo, da, hh, mi, ss, ms] = parts;
  return `${y}-${pad(mo)}-${pad(da)} ${pad(hh)}:${pad(mi)}:${pad(ss)}.${pad(ms, 3)}`;
}

// The value of <input type=datetime-local> for an instant, and back.
export function toInput(value, utc) {
  return value ? formatTime(value, utc).slice(0, 19).replace(' ', 'T') : '';
}

export function fromInput(text, utc) {
  if (!text) return null;
  const d = new Date(utc ? `${text}Z` : text);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
