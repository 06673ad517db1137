// The histogram of the range from POST /events/interval with `stack_by`: one bar per bucket,
// stacked by service or outcome; dragging across it narrows the range to the buckets covered.
import * as api from './api.js';
import {$, h, svg, clear, num} from './dom.js';
import {bucketWidth, formatTime, offset} from './state.js';

const HEIGHT = 120;
const AXIS = 18;

// The last drawing, redrawn when the window's width changes.
let last = null;
let resizing = null;
window.addEventListener('resize', () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => last && last(), 150);
});

// Asks for the histogram of `request` over `win` and draws it (unless `signal` was aborted by a
// newer screen meanwhile); resolves to the bucket total.
export async function loadHistogram(request, win, state, narrow, signal) {
  const width = bucketWidth(win);
  const answer = await api.interval({...request, interval_unit: width.unit,
    interval_value: width.value, timezone: offset(state.utc), stack_by: state.stack}, signal);
  if (signal.aborted) return null;
  last = () => draw(answer.buckets, win, width, state, narrow);
  last();
  return answer.buckets.reduce((sum, bucket) => sum + bucket.doc_count, 0);
}

function stackLabel(stack, key) {
  if (stack !== 'success') return key;
  return key === 'true' ? 'success' : key === 'false' ? 'failure' : 'no outcome';
}

function draw(buckets, win, width, state, narrow) {
  const chart = clear($('chart'));
  const legend = clear($('legend'));
  const pixels = Math.max(chart.clientWidth || chart.parentElement.clientWidth, 300);
  chart.setAttribute('viewBox', `0 0 ${pixels} ${HEIGHT + AXIS}`);
  chart.setAttribute('height', HEIGHT + AXIS);
  const start = win.start.getTime();
  const span = Math.max(win.end.getTime() - start, 1);
  const x = (ms) => ((ms - start) / span) * pixels;
  const max = Math.max(1, ...buckets.map((b) => b.doc_count));
  // Stack keys by their total, busiest at the bottom, with stable colours.
  const totals = new Map();
  for (const bucket of buckets) {
    for (const [key, n] of Object.entries(bucket.stacks || {})) {
      totals.set(key, (totals.get(key) || 0) + n);
    }
  }
  const keys = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a) || a.localeCompare(b));
  const colour = (key) => `series-${keys.indexOf(key) % 12}`;
  for (const bucket of buckets) {
    const left = Math.max(0, x(bucket.key));
    const right = Math.min(pixels, x(bucket.key + width.ms));
    const barWidth = Math.max(1, right - left - 1);
    let top = HEIGHT;
    const title = [`${formatTime(bucket.key, state.utc)}: ${num(bucket.doc_count)} events`];
    for (const key of keys) {
      const n = (bucket.stacks || {})[key] || 0;
      if (!n) continue;
      const height = (n / max) * (HEIGHT - 4);
      top -= height;
      chart.append(svg('rect', {x: left, y: top, width: barWidth, height, class: colour(key)}));
      title.push(`${stackLabel(state.stack, key)}: ${num(n)}`);
    }
    const hit = svg('rect', {x: left, y: 0, width: barWidth, height: HEIGHT, class: 'hit'});
    hit.append(svg('title'));
    hit.firstChild.textContent = title.join('\n');
    chart.append(hit);
  }
  // Axis: a few labels.
  const ticks = 6;
  for (let i = 0; i <= ticks; i += 1) {
    const ms = start + (span * i) / ticks;
    const label = svg('text', {x: Math.min(x(ms), pixels - 2), y: HEIGHT + AXIS - 4,
      'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle', class: 'axis'});
    label.textContent = formatTime(ms, state.utc).slice(5, 16);
    chart.append(label);
  }
  for (const key of keys) {
    legend.append(h('span', {className: 'legend-item'},
      h('span', {className: `swatch ${colour(key)}`}), ` ${stackLabel(state.stack, key)} `,
      h('span', {className: 'muted'}, num(totals.get(key)))));
  }
  enableDrag(chart, pixels, start, span, buckets.map((b) => b.key), width.ms, narrow);
}

// Dragging selects whole buckets, as the server aligned them (to midnight in the zone shown):
// from the start of the first bucket touched to the end of the last, within the range.
function enableDrag(chart, pixels, start, span, keys, bucketMs, narrow) {
  let from = null;
  let band = null;
  const at = (event) => {
    const box = chart.getBoundingClientRect();
    return Math.min(Math.max(((event.clientX - box.left) / box.width) * pixels, 0), pixels);
  };
  const time = (px) => start + (px / pixels) * span;
  chart.onpointerdown = (event) => {
    from = at(event);
    band = svg('rect', {x: from, y: 0, width: 0, height: HEIGHT, class: 'band'});
    chart.append(band);
    chart.setPointerCapture(event.pointerId);
  };
  chart.onpointermove = (event) => {
    if (from === null) return;
    const to = at(event);
    band.setAttribute('x', Math.min(from, to));
    band.setAttribute('width', Math.abs(to - from));
  };
  chart.onpointerup = (event) => {
    if (from === null) return;
    const to = at(event);
    const [a, b] = [Math.min(from, to), Math.max(from, to)];
    from = null;
    band.remove();
    if (b - a < 3) return;
    const touched = keys.filter((key) => key < time(b) && key + bucketMs > time(a));
    if (!touched.length) return;
    const first = Math.max(touched[0], start);
    const last = Math.min(touched[touched.length - 1] + bucketMs, start + span);
    narrow(new Date(first), new Date(last));
  };
  chart.onpointercancel = () => {
    from = null;
    if (band) band.remove();
  };
}
