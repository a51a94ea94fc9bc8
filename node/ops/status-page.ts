// The status page (docs/design §7): one self-contained HTML page — no outside scripts, styles or fonts, so it
// works offline — that reads /status.json every two seconds and draws the roster, the stage and the token,
// accuracy and reward by stage (an SVG chart), the last stages' time split, and the latest warnings.

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; background: #fff; } td, th { padding: .25em .8em; border: 1px solid #ddd; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.self td { font-weight: 600; } tr.vacant td { color: #a00; }
#meta span { margin-right: 1.5em; } #chart { background: #fff; border: 1px solid #ddd; }
.bar { display: flex; width: 420px; height: 14px; border: 1px solid #ccc; }
.bar div { height: 100%; } .legend span { margin-right: 1em; } .sw { display: inline-block; width: .8em; height: .8em; }
#errors li.error { color: #a00; } #errors li.warn { color: #8a5a00; } #stale { color: #a00; }
`;

const SCRIPT = `
const COLORS = { rollout: '#4e79a7', score: '#76b7b2', update: '#f28e2b', network: '#bab0ac', eval: '#59a14f' };
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text) => {
  const e = tag === 'svg' || ['line', 'polyline', 'circle', 'text', 'rect', 'g'].includes(tag)
    ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const age = (s) => (s === undefined || s === null ? '-' : s < 60 ? s.toFixed(0) + ' s' : (s / 60).toFixed(1) + ' min');
const pct = (x) => (100 * x).toFixed(1) + '%';

function roster(s) {
  const body = $('roster').tBodies[0];
  body.replaceChildren(...s.roster.map((r) => {
    const tr = el('tr', { class: 'slot' + (r.self ? ' self' : '') + (r.peer ? '' : ' vacant'), 'data-slot': r.slot });
    [String(r.slot), r.peer ?? 'vacant', age(r.claimAgeS), age(r.heartbeatAgeS), r.stage ?? '-']
      .forEach((v, i) => tr.append(el('td', i === 1 ? {} : { class: 'num' }, String(v))));
    tr.append(el('td', {}, (r.replicas ?? []).join(', ') || '-'));
    return tr;
  }));
}

function chart(s) {
  const svg = $('chart');
  const W = 520, H = 220, L = 40, R = 10, T = 10, B = 30;
  const pts = s.stages;
  const top = Math.max(1, ...pts.map((p) => p.reward), ...pts.map((p) => p.accuracy));
  const first = pts.length ? pts[0].stage : 0, last = pts.length ? pts[pts.length - 1].stage : 1;
  const x = (stage) => L + ((stage - first) / Math.max(1, last - first)) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const parts = [el('line', { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: '#999' }),
    el('line', { x1: L, y1: T, x2: L, y2: y(0), stroke: '#999' }),
    el('text', { x: 4, y: y(top) + 4, 'font-size': 11 }, top.toFixed(1)),
    el('text', { x: 4, y: y(0) + 4, 'font-size': 11 }, '0')];
  for (const p of pts) parts.push(el('text', { x: x(p.stage) - 4, y: H - 10, 'font-size': 11 }, String(p.stage)));
  for (const [key, color] of [['accuracy', '#4e79a7'], ['reward', '#e15759']]) {
    parts.push(el('polyline', { fill: 'none', stroke: color, 'stroke-width': 2,
      points: pts.map((p) => x(p.stage) + ',' + y(p[key])).join(' ') }));
    for (const p of pts) {
      const c = el('circle', { class: key, cx: x(p.stage), cy: y(p[key]), r: 3.5, fill: color, 'data-stage': p.stage });
      c.append(el('title', {}, key + ' after stage ' + p.stage + ': ' + p[key].toFixed(3)));
      parts.push(c);
    }
  }
  svg.replaceChildren(...parts);
}

function times(s) {
  const body = $('times').tBodies[0];
  body.replaceChildren(...s.stages.slice(-5).reverse().map((p) => {
    const tr = el('tr', { 'data-stage': p.stage });
    tr.append(el('td', { class: 'num' }, String(p.stage)), el('td', { class: 'num' }, p.seconds.toFixed(1)));
    const bar = el('div', { class: 'bar' });
    const total = Object.values(p.time).reduce((a, b) => a + b, 0) || 1;
    for (const [k, v] of Object.entries(p.time)) {
      const d = el('div', { title: k + ' ' + v.toFixed(1) + ' s' });
      d.style.width = (100 * v / total) + '%';
      d.style.background = COLORS[k] ?? '#999';
      bar.append(d);
    }
    const cell = el('td'); cell.append(bar); tr.append(cell);
    tr.append(el('td', {}, Object.entries(p.time).map(([k, v]) => k + ' ' + v.toFixed(1) + ' s').join(', ')));
    return tr;
  }));
  $('legend').replaceChildren(...Object.entries(COLORS).map(([k, c]) => {
    const span = el('span'); const sw = el('span', { class: 'sw' }); sw.style.background = c;
    span.append(sw, ' ' + k); return span;
  }));
}

function render(s) {
  $('who').textContent = s.role + ' ' + (s.joining ? '(joining its team)' : s.peerId) +
    (s.slot !== undefined && s.slot !== null ? ', slot ' + s.slot : '');
  $('team').textContent = s.team ? 'team ' + s.team : '';
  $('stage').textContent = String(s.stage);
  $('done').textContent = String(s.stagesDone);
  $('token').textContent = s.token
    ? (s.token.position < 0 ? 'not started' : 'position ' + s.token.position +
      (s.token.slot !== undefined && s.token.slot !== null ? ' (slot ' + s.token.slot + ')' : '') +
      ', last heard ' + age(s.token.silentS) + ' ago')
    : '-';
  $('connections').textContent = String(s.connections);
  const last = s.stages[s.stages.length - 1];
  $('accuracy').textContent = last ? pct(last.accuracy) : '-';
  roster(s); chart(s); times(s);
  $('errors').replaceChildren(...(s.errors.length ? s.errors.slice().reverse().map((e) =>
    el('li', { class: e.level }, new Date(e.time).toLocaleTimeString() + ' ' + e.line)) : [el('li', {}, 'none')]));
  $('updated').textContent = new Date(s.time).toLocaleTimeString();
  $('stale').textContent = '';
}

async function poll() {
  try {
    const res = await fetch('status.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
  } catch (err) {
    $('stale').textContent = 'cannot reach the process (' + err.message + '); retrying';
  }
}
poll();
setInterval(poll, 2000);
`;

/** The page's HTML. */
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sat-peer status</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>sat-peer status</h1>
<div id="meta"><span id="who"></span><span id="team"></span><span>updated <span id="updated">-</span></span>
<span id="stale"></span></div>
<h2>Stage</h2>
<div id="meta2"><span>stage <b id="stage">-</b></span> · <span>done <b id="done">-</b></span> ·
<span>token <b id="token">-</b></span> · <span>test accuracy <b id="accuracy">-</b></span> ·
<span>peers connected <b id="connections">-</b></span></div>
<h2>Roster</h2>
<table id="roster"><thead><tr><th>slot</th><th>peer</th><th>claimed</th><th>last heartbeat</th><th>stage</th><th>replicas</th></tr>
</thead><tbody></tbody></table>
<h2>Accuracy and reward by stage</h2>
<div class="legend"><span><span class="sw" style="background:#4e79a7"></span> test accuracy</span>
<span><span class="sw" style="background:#e15759"></span> mean reward</span></div>
<svg id="chart" width="520" height="220" viewBox="0 0 520 220" role="img" aria-label="accuracy and reward by stage"></svg>
<h2>Where the last stages' time went</h2>
<div class="legend" id="legend"></div>
<table id="times"><thead><tr><th>stage</th><th>seconds</th><th>split</th><th></th></tr></thead><tbody></tbody></table>
<h2>Latest warnings and errors</h2>
<ul id="errors"></ul>
<script>${SCRIPT}</script>
</body></html>
`;
