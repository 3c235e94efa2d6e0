import { createHash } from 'node:crypto';

// The dashboard is one self-contained page: no build step, no CDN, no dependency. It polls the JSON
// endpoints beside it (relative URLs: it is served at `<prefix>/`) and draws everything with DOM and
// SVG built through createElement/textContent/setAttribute. Nothing from the process (task names,
// labels, paths) is ever parsed as HTML: there is no innerHTML, no eval, and the CSP below forbids
// any script or style but these two (by hash) and turns on Trusted Types, so an HTML sink would throw.
//
// The script is kept free of backticks and dollar-brace so that it can live in this template literal.

const STYLE = `
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fafafa; --muted: #6b6b70; --line: #d8d8dc; --card: #fff; --accent: #2f6fdf; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8ea; --bg: #151517; --muted: #9a9aa2; --line: #34343a; --card: #1e1e21; --accent: #7aa7ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 16px; align-items: baseline; padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--card); position: sticky; top: 0; z-index: 1; }
header h1 { font-size: 16px; margin: 0; }
#status { color: var(--muted); flex: 1; }
#status.error { color: #d33; }
main { padding: 12px 16px; display: grid; gap: 12px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
section h2 { font-size: 14px; margin: 0 0 8px; }
.note { color: var(--muted); margin: 4px 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
.chart svg { width: 100%; height: 140px; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; color: var(--muted); font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; word-break: break-all; }
.state { display: inline-block; padding: 0 6px; border-radius: 8px; background: var(--line); font-size: 12px; white-space: nowrap; }
.state.running { background: #2e7d3233; } .state.sleeping { background: #8884; }
.state.chan-send, .state.chan-receive, .state.select { background: #e6a23c44; }
.state.group-wait { background: #409eff33; } .state.io { background: #9c27b033; }
.tree-name::before { content: attr(data-branch); color: var(--muted); }
details summary { cursor: pointer; }
.scroll { max-height: 420px; overflow: auto; }
#flame svg, #timeline svg { width: 100%; display: block; }
#flame text, #timeline text { font: 11px ui-monospace, Menlo, monospace; fill: #111; pointer-events: none; }
#flame rect { stroke: var(--card); cursor: pointer; }
#timeline .axis { fill: var(--muted); }
button, input { font: inherit; }
input[type=number] { width: 5em; }
`;

const SCRIPT = `
'use strict';
(function () {
  var SVGNS = 'http://www.w3.org/2000/svg';
  var POLL_MS = 2000;
  var updates = 0;
  var paused = false;
  var flameZoom = null;
  var lastState = null;

  function byId(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function age(ms) {
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    var m = Math.floor(ms / 60000);
    return m === 1 ? '1 minute' : m + ' minutes';
  }
  function status(text, isError) {
    var s = byId('status');
    s.textContent = text;
    s.className = isError ? 'error' : '';
  }
  function getJSON(url) {
    return fetch(url, { cache: 'no-store', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(url + ': HTTP ' + r.status + ' ' + t); });
      return r.json();
    });
  }
  function hue(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
    return Math.abs(h);
  }
  function warm(name) { var h = hue(name); return 'hsl(' + (10 + (h % 40)) + ',' + (70 + (h % 20)) + '%,' + (60 + (h % 15)) + '%)'; }
  var PALETTE = ['#2f6fdf', '#e6a23c', '#2e9d5b', '#d33f49', '#9c27b0', '#00a3a3', '#8d6e63', '#607d8b'];

  // ---- charts ------------------------------------------------------------------------------
  function lineChart(host, title, times, series, unit, fixedMax) {
    var box = el('div', 'chart');
    box.appendChild(el('h3', 'note', title));
    var W = 320, H = 140, L = 34, B = 16;
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img' });
    s.appendChild(svg('title')).textContent = title;
    var max = fixedMax || 0;
    series.forEach(function (se) { se.values.forEach(function (v) { if (v > max) max = v; }); });
    if (!(max > 0)) max = 1;
    var n = times.length;
    var x = function (i) { return L + (n <= 1 ? 0 : (i * (W - L - 4)) / (n - 1)); };
    var y = function (v) { return H - B - (v / max) * (H - B - 6); };
    s.appendChild(svg('line', { x1: L, y1: H - B, x2: W, y2: H - B, stroke: 'currentColor', 'stroke-opacity': 0.3 }));
    var top = svg('text', { x: 2, y: 12, 'font-size': 10, fill: 'currentColor' });
    top.textContent = fmt(max, unit);
    s.appendChild(top);
    var zero = svg('text', { x: 2, y: H - B, 'font-size': 10, fill: 'currentColor' });
    zero.textContent = '0';
    s.appendChild(zero);
    if (n > 1) {
      var span = svg('text', { x: W - 4, y: H - 3, 'font-size': 10, fill: 'currentColor', 'text-anchor': 'end' });
      span.textContent = 'last ' + age(times[n - 1] - times[0]);
      s.appendChild(span);
    }
    series.forEach(function (se) {
      var pts = se.values.map(function (v, i) { return x(i).toFixed(1) + ',' + y(v).toFixed(1); }).join(' ');
      s.appendChild(svg('polyline', { points: pts, fill: 'none', stroke: se.color, 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }));
    });
    box.appendChild(s);
    var legend = el('div', 'legend');
    series.forEach(function (se) {
      var item = el('span');
      var sw = el('span', 'swatch');
      sw.style.background = se.color;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(se.name + ' ' + fmt(se.values.length ? se.values[se.values.length - 1] : 0, unit)));
      legend.appendChild(item);
    });
    box.appendChild(legend);
    host.appendChild(box);
  }
  function fmt(v, unit) {
    if (unit === '%') return (v * 100).toFixed(0) + '%';
    if (unit === 'ms') return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ms';
    return String(Math.round(v));
  }
  function renderSamples(data) {
    var host = byId('charts');
    clear(host);
    var samples = data.samples;
    byId('samples-note').textContent = data.running
      ? samples.length + ' samples, one every ' + data.intervalMs + ' ms'
      : 'the sampler is stopped (the handler was closed)';
    var times = samples.map(function (s) { return s.t; });
    var states = [];
    samples.forEach(function (s) { Object.keys(s.states).forEach(function (k) { if (states.indexOf(k) < 0) states.push(k); }); });
    var taskSeries = [{ name: 'total', color: PALETTE[0], values: samples.map(function (s) { return s.tasks; }) }];
    states.sort().forEach(function (st, i) {
      taskSeries.push({ name: st, color: PALETTE[(i + 1) % PALETTE.length], values: samples.map(function (s) { return s.states[st] || 0; }) });
    });
    lineChart(host, 'live tasks by state', times, taskSeries, '');
    lineChart(host, 'event-loop delay per interval', times, [
      { name: 'p50', color: PALETTE[2], values: samples.map(function (s) { return s.delayP50Ms; }) },
      { name: 'p99', color: PALETTE[1], values: samples.map(function (s) { return s.delayP99Ms; }) },
      { name: 'max', color: PALETTE[3], values: samples.map(function (s) { return s.delayMaxMs; }) }
    ], 'ms');
    lineChart(host, 'event-loop utilisation per interval', times, [
      { name: 'utilisation', color: PALETTE[4], values: samples.map(function (s) { return s.elu; }) }
    ], '%', 1);
    renderService(host, samples, times, data.intervalMs);
  }
  // What the other layers published (leash:* channels), per interval: requests, defences, cache, queues.
  function keysOf(samples, pick) {
    var keys = [];
    samples.forEach(function (s) {
      var o = s.service ? pick(s.service) : null;
      if (o) Object.keys(o).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    });
    return keys.sort();
  }
  function seriesOf(samples, keys, pick, scale) {
    return keys.map(function (k, i) {
      return { name: k, color: PALETTE[i % PALETTE.length], values: samples.map(function (s) {
        var o = s.service ? pick(s.service) : null;
        var v = o && typeof o[k] === 'number' ? o[k] : 0;
        return scale ? v * scale : v;
      }) };
    });
  }
  function renderService(host, samples, times, intervalMs) {
    var perSecond = 1000 / intervalMs;
    var pick = function (name) { return function (sv) { return sv[name]; }; };
    var outcomes = keysOf(samples, pick('requests'));
    lineChart(host, 'requests per second by outcome', times,
      outcomes.length ? seriesOf(samples, outcomes, pick('requests'), perSecond)
        : [{ name: 'requests', color: PALETTE[0], values: samples.map(function () { return 0; }) }], '');
    var defences = keysOf(samples, pick('defences'));
    if (defences.length) lineChart(host, 'defences per second', times, seriesOf(samples, defences, pick('defences'), perSecond), '');
    var tiers = keysOf(samples, pick('cache'));
    if (tiers.length) {
      lineChart(host, 'cache hit ratio by tier', times, tiers.map(function (tier, i) {
        return { name: tier, color: PALETTE[(i + 2) % PALETTE.length], values: samples.map(function (s) {
          var c = s.service && s.service.cache[tier];
          return c && c[0] + c[1] > 0 ? c[0] / (c[0] + c[1]) : 0;
        }) };
      }), '%', 1);
    }
    var gauges = [];
    if (samples.some(function (s) { return s.service && s.service.breakersOpen > 0; })) {
      gauges.push({ name: 'breakers open', color: PALETTE[3], values: samples.map(function (s) { return s.service ? s.service.breakersOpen : 0; }) });
    }
    keysOf(samples, pick('queueDepth')).forEach(function (q, i) {
      gauges.push({ name: 'queue ' + q + ' depth', color: PALETTE[(i + 4) % PALETTE.length], values: samples.map(function (s) { return s.service && s.service.queueDepth[q] || 0; }) });
    });
    keysOf(samples, pick('adaptiveLimit')).forEach(function (l, i) {
      gauges.push({ name: l + ' limit', color: PALETTE[(i + 6) % PALETTE.length], values: samples.map(function (s) { return s.service && s.service.adaptiveLimit[l] || 0; }) });
    });
    if (gauges.length) lineChart(host, 'queues, limits, open breakers', times, gauges, '');
  }

  // ---- task tree ---------------------------------------------------------------------------
  function renderTasks(state) {
    var body = byId('tasks-body');
    clear(body);
    var note = state.taskCount + ' live task' + (state.taskCount === 1 ? '' : 's');
    if (state.tasks.length < state.taskCount) note += ' (first ' + state.tasks.length + ' shown)';
    if (!state.stacks && state.taskCount > 0) note += '; creation lines need task stacks: startTracking() or LEASH_TASK_STACKS=1';
    byId('tasks-note').textContent = note;
    var ids = {};
    var children = {};
    var roots = [];
    state.tasks.forEach(function (t) { ids[t.id] = true; });
    state.tasks.forEach(function (t) {
      if (t.parentId !== undefined && t.parentId !== null && ids[t.parentId]) {
        (children[t.parentId] = children[t.parentId] || []).push(t);
      } else roots.push(t);
    });
    // Depth-first without recursion: a deep chain of tasks cannot overflow the stack.
    var stack = [];
    for (var r = roots.length - 1; r >= 0; r--) stack.push({ t: roots[r], depth: 0, last: r === roots.length - 1 });
    while (stack.length) {
      var item = stack.pop();
      var t = item.t;
      var tr = el('tr');
      tr.setAttribute('data-task-id', String(t.id));
      tr.appendChild(el('td', 'mono', t.id));
      var name = el('td', 'tree-name');
      name.style.paddingLeft = Math.min(item.depth, 40) * 16 + 'px';
      name.setAttribute('data-branch', item.depth ? (item.last ? '\\u2514 ' : '\\u251c ') : '');
      name.appendChild(document.createTextNode(t.name));
      tr.appendChild(name);
      var st = el('td');
      st.appendChild(el('span', 'state ' + t.state.replace(/[^a-z]+/g, '-'), t.state));
      tr.appendChild(st);
      tr.appendChild(el('td', '', age(t.ageMs)));
      tr.appendChild(el('td', 'mono site', t.site));
      tr.appendChild(el('td', 'mono', t.blockedAt || ''));
      tr.appendChild(el('td', '', t.label || ''));
      body.appendChild(tr);
      var kids = children[t.id] || [];
      for (var k = kids.length - 1; k >= 0; k--) stack.push({ t: kids[k], depth: item.depth + 1, last: k === kids.length - 1 });
    }
  }

  // ---- leak groups -------------------------------------------------------------------------
  function renderGroups(state) {
    var body = byId('groups-body');
    clear(body);
    byId('groups-note').textContent = 'tracking: ' + state.tracking + (state.tracking === 'off' || state.tracking === 'count' ? ' (no stacks for resources and promises: startTracking({ mode: \\'debug\\' }))' : '');
    state.groups.forEach(function (g) {
      var tr = el('tr');
      tr.appendChild(el('td', '', g.count));
      tr.appendChild(el('td', '', g.kind));
      tr.appendChild(el('td', '', g.type));
      tr.appendChild(el('td', '', g.state + (g.keepsAlive ? ', keeps alive' : '')));
      tr.appendChild(el('td', '', age(g.oldestMs)));
      var where = el('td', 'mono');
      if (g.stack.length > 1) {
        var d = el('details');
        d.appendChild(el('summary', '', g.site));
        var pre = el('pre', 'mono', g.stack.join('\\n'));
        d.appendChild(pre);
        where.appendChild(d);
      } else where.textContent = g.site;
      tr.appendChild(where);
      body.appendChild(tr);
    });
  }

  // ---- flame graph (icicle: root on top, as pprof -http draws it) ----------------------------
  function renderFlame(state) {
    var host = byId('flame');
    clear(host);
    var root = flameZoom ? findNode(state.flame, flameZoom) || state.flame : state.flame;
    if (root === state.flame) flameZoom = null;
    if (state.flame.value === 0) {
      host.appendChild(el('p', 'note', 'no live tasks'));
      return;
    }
    var W = Math.max(host.clientWidth, 300), ROW = 18;
    var rows = [];
    var queue = [{ node: root, x: 0, w: W, depth: 0, path: flameZoom ? flameZoom.slice(0, -1) : [] }];
    var maxDepth = 0;
    while (queue.length) {
      var q = queue.shift();
      var path = q.path.concat([q.node.name]);
      rows.push({ node: q.node, x: q.x, w: q.w, depth: q.depth, path: path });
      if (q.depth > maxDepth) maxDepth = q.depth;
      var x = q.x;
      for (var i = 0; i < q.node.children.length; i++) {
        var c = q.node.children[i];
        var w = (c.value / q.node.value) * q.w;
        if (w >= 0.5) queue.push({ node: c, x: x, w: w, depth: q.depth + 1, path: path });
        x += w;
      }
    }
    var H = (maxDepth + 1) * ROW;
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, height: H, role: 'img' });
    s.appendChild(svg('title')).textContent = 'where live tasks are blocked';
    rows.forEach(function (r) {
      var g = svg('g', { class: 'frame' });
      g.setAttribute('data-name', r.node.name);
      var rect = svg('rect', { x: r.x.toFixed(2), y: r.depth * ROW, width: Math.max(r.w - 1, 0.5).toFixed(2), height: ROW - 1, fill: r.depth === 0 ? '#c8c8d0' : warm(r.node.name), rx: 2 });
      var tip = svg('title');
      tip.textContent = r.node.name + ' (' + r.node.value + ' task' + (r.node.value === 1 ? '' : 's') + ', ' + ((r.node.value / state.flame.value) * 100).toFixed(1) + '%)';
      g.appendChild(tip);
      g.appendChild(rect);
      var chars = Math.floor((r.w - 6) / 6.6);
      if (chars >= 3) {
        var label = r.node.name.length > chars ? r.node.name.slice(0, chars - 1) + '\\u2026' : r.node.name;
        var t = svg('text', { x: (r.x + 3).toFixed(2), y: r.depth * ROW + 13 });
        t.textContent = label;
        g.appendChild(t);
      }
      g.addEventListener('click', function () {
        flameZoom = r.depth === 0 && flameZoom ? flameZoom.slice(0, -1) : r.path;
        if (flameZoom.length <= 1) flameZoom = null;
        renderFlame(lastState);
      });
      s.appendChild(g);
    });
    host.appendChild(s);
    byId('flame-note').textContent = state.flame.value + ' task' + (state.flame.value === 1 ? '' : 's') + ', folded by the stack each is blocked at; click a frame to zoom' + (flameZoom ? ', click the top bar to zoom out' : '');
  }
  function findNode(root, path) {
    var node = root;
    for (var i = 1; i < path.length; i++) {
      var next = null;
      for (var j = 0; j < node.children.length; j++) if (node.children[j].name === path[i]) next = node.children[j];
      if (!next) return null;
      node = next;
    }
    return node;
  }

  // ---- trace timeline ----------------------------------------------------------------------
  function recordTrace() {
    var secs = Number(byId('trace-seconds').value);
    var button = byId('trace-record');
    var note = byId('trace-note');
    if (!(secs > 0)) { note.textContent = 'seconds must be above 0'; return; }
    button.disabled = true;
    note.textContent = 'recording ' + secs + ' s\\u2026';
    fetch('trace?seconds=' + encodeURIComponent(String(secs)), { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.text().then(function (text) { return { r: r, text: text }; }); })
      .then(function (x) {
        if (!x.r.ok) throw new Error('HTTP ' + x.r.status + ': ' + x.text);
        renderTrace(JSON.parse(x.text), x.text);
      })
      .catch(function (e) { note.textContent = String(e && e.message || e); })
      .then(function () { button.disabled = false; });
  }
  function renderTrace(trace, text) {
    var host = byId('timeline');
    clear(host);
    var events = trace.traceEvents || [];
    var open = {};
    var slices = [];
    var cbs = [];
    var cbOpen = [];
    var t0 = Infinity, t1 = -Infinity;
    events.forEach(function (e) {
      if (e.ph === 'M') return;
      if (e.ts < t0) t0 = e.ts;
      if (e.ts > t1) t1 = e.ts;
      if (e.ph === 'b') open[e.id] = e;
      else if (e.ph === 'e' && open[e.id]) {
        var b = open[e.id];
        delete open[e.id];
        slices.push({ name: b.name, start: b.ts, end: e.ts, task: String(e.id).indexOf('task-') === 0, alive: !!(e.args && e.args.alive) });
      } else if (e.ph === 'B') cbOpen.push(e);
      else if (e.ph === 'E' && cbOpen.length) {
        var s0 = cbOpen.pop();
        cbs.push({ name: s0.name, start: s0.ts, end: e.ts });
      }
    });
    var note = byId('trace-note');
    note.textContent = slices.length + ' async slices, ' + cbs.length + ' callbacks' + (trace.otherData && trace.otherData.dropped ? ', ' + trace.otherData.dropped + ' events dropped' : '') + '; tasks first, then other resources; hover for details';
    var link = el('a', '', 'download trace JSON (open in ui.perfetto.dev)');
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    link.download = 'leash-trace.json';
    note.appendChild(document.createTextNode(' \\u00b7 '));
    note.appendChild(link);
    if (!(t1 > t0)) { host.appendChild(el('p', 'note', 'nothing happened while recording')); return; }
    slices.sort(function (a, b) { return (a.task === b.task ? 0 : a.task ? -1 : 1) || a.start - b.start; });
    // First-fit lanes; at most MAX_LANES drawn.
    var MAX_LANES = 150;
    var lanes = [];
    var placed = [];
    slices.forEach(function (sl) {
      for (var i = 0; i < lanes.length; i++) {
        if (lanes[i].end <= sl.start && lanes[i].task === sl.task) { lanes[i].end = sl.end; placed.push({ s: sl, lane: i }); return; }
      }
      if (lanes.length < MAX_LANES) { lanes.push({ end: sl.end, task: sl.task }); placed.push({ s: sl, lane: lanes.length - 1 }); }
    });
    var W = Math.max(host.clientWidth - 16, 300), L = 0, ROW = 14, TOP = 16;
    var H = TOP + (lanes.length + 1) * ROW + 4;
    var sx = function (ts) { return L + ((ts - t0) / (t1 - t0)) * (W - L); };
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, height: H, role: 'img' });
    s.appendChild(svg('title')).textContent = 'trace timeline';
    for (var k = 0; k <= 4; k++) {
      var tx = svg('text', { x: Math.min(W - 40, (k * W) / 4), y: 11, class: 'axis' });
      tx.textContent = (((t1 - t0) * k) / 4 / 1000).toFixed(1) + ' ms';
      s.appendChild(tx);
    }
    cbs.forEach(function (c) {
      var r = svg('rect', { x: sx(c.start).toFixed(2), y: TOP, width: Math.max(sx(c.end) - sx(c.start), 0.5).toFixed(2), height: ROW - 2, fill: '#6b8fd6' });
      r.appendChild(svg('title')).textContent = c.name + ' ' + ((c.end - c.start) / 1000).toFixed(3) + ' ms';
      s.appendChild(r);
    });
    placed.forEach(function (p) {
      var y = TOP + (p.lane + 1) * ROW;
      var x0 = sx(p.s.start), w = Math.max(sx(p.s.end) - x0, 1);
      var g = svg('g', { class: p.s.task ? 'slice task' : 'slice' });
      var r = svg('rect', { x: x0.toFixed(2), y: y, width: w.toFixed(2), height: ROW - 2, fill: p.s.task ? '#e6a23c' : '#a0a0b0', 'fill-opacity': p.s.alive ? 0.55 : 1 });
      g.appendChild(r);
      g.appendChild(svg('title')).textContent = p.s.name + ' ' + ((p.s.end - p.s.start) / 1000).toFixed(3) + ' ms' + (p.s.alive ? ' (still alive)' : '');
      var chars = Math.floor((w - 4) / 6.6);
      if (chars >= 3) {
        var t = svg('text', { x: (x0 + 2).toFixed(2), y: y + 10 });
        t.textContent = p.s.name.length > chars ? p.s.name.slice(0, chars - 1) + '\\u2026' : p.s.name;
        g.appendChild(t);
      }
      s.appendChild(g);
    });
    host.appendChild(s);
  }

  // ---- polling -----------------------------------------------------------------------------
  function refresh() {
    if (paused) return;
    Promise.all([getJSON('dashboard/state'), getJSON('dashboard/samples')])
      .then(function (res) {
        lastState = res[0];
        renderTasks(res[0]);
        renderGroups(res[0]);
        renderFlame(res[0]);
        renderSamples(res[1]);
        updates++;
        document.documentElement.setAttribute('data-updates', String(updates));
        status('updated ' + new Date(res[0].now).toLocaleTimeString() + ' \\u00b7 tracking ' + res[0].tracking, false);
      })
      .catch(function (e) { status(String(e && e.message || e), true); })
      .then(function () { setTimeout(refresh, POLL_MS); });
  }
  byId('pause').addEventListener('change', function (ev) {
    paused = ev.target.checked;
    if (!paused) refresh();
  });
  byId('trace-record').addEventListener('click', recordTrace);
  refresh();
})();
`;

const BODY = `
<header><h1>leash dashboard</h1><span id="status">loading\u2026</span><label><input type="checkbox" id="pause"> pause</label></header>
<main>
<section><h2>Metrics</h2><p class="note" id="samples-note"></p><div class="charts" id="charts"></div></section>
<section><h2>Live tasks</h2><p class="note" id="tasks-note"></p><div class="scroll"><table id="tasks"><thead><tr><th>id</th><th>name</th><th>state</th><th>age</th><th>created at</th><th>blocked at</th><th>label</th></tr></thead><tbody id="tasks-body"></tbody></table></div></section>
<section><h2>Leak groups (by creation line)</h2><p class="note" id="groups-note"></p><div class="scroll"><table id="groups"><thead><tr><th>count</th><th>kind</th><th>type</th><th>state</th><th>oldest</th><th>created at</th></tr></thead><tbody id="groups-body"></tbody></table></div></section>
<section><h2>Where tasks are blocked</h2><p class="note" id="flame-note"></p><div id="flame"></div></section>
<section><h2>Trace</h2><p><label>seconds <input type="number" id="trace-seconds" value="2" min="0.1" step="0.1"></label> <button type="button" id="trace-record">record</button></p><p class="note" id="trace-note"></p><div class="scroll" id="timeline"></div></section>
</main>
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The dashboard's HTML, served at `<prefix>/`. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>leash dashboard</title><style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;

/**
 * The page's Content-Security-Policy: its one script and one style by hash, requests only to its
 * own origin, no frames, no plugins, no base or form targets, and Trusted Types required for HTML
 * sinks (the page uses none).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');
