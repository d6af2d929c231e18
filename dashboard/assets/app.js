// nodemesh web UI: a service graph with golden metrics on its edges, workload pages (inbound and
// outbound by route, identity, policies, the explain answer), routes and live tap. Plain browser
// JavaScript against the controller's /api; nothing loaded from elsewhere.
'use strict';
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
const pct = (v) => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);
const ms = (v) => (v === null || v === undefined ? '-' : `${v < 10 ? v.toFixed(2) : Math.round(v)} ms`);
const win = () => $('#window').value;
let tapStream = null;

// A Bearer token for controllers that check callers, kept in this tab's sessionStorage only.
const authHeaders = () => { const t = sessionStorage.getItem('nodemesh-token'); return t ? { authorization: `Bearer ${t}` } : {}; };

async function api(path) {
  const r = await fetch(path, { headers: authHeaders() });
  const body = await r.json();
  if (!r.ok) throw new Error(`${body.code}: ${body.message}`);
  return body;
}

async function showNodes() {
  try {
    const { nodes } = await api('/api/nodes');
    $('#nodes').innerHTML = nodes.map((n) => {
      const down = !n.connected || n.reportAgeMs === null || n.reportAgeMs > 15000;
      const why = !n.connected ? 'agent not connected' : n.reportAgeMs === null ? 'no report yet' : n.reportAgeMs > 15000 ? `no report for ${Math.round(n.reportAgeMs / 1000)} s` : `${n.meshed}/${n.pods} pods meshed, config ${n.inSync ? 'in sync' : `v${n.acked} of v${n.modelVersion}`}`;
      return `<span class="node ${down ? 'bad' : 'ok'}" data-node="${esc(n.name)}" data-down="${down}">${down ? '✗' : '✓'} ${esc(n.name)}: ${esc(why)}</span>`;
    }).join('');
  } catch (e) { $('#nodes').innerHTML = `<span class="bad">controller unreachable: ${esc(e.message)}</span>`; }
}

function statTable(rows, withTcp) {
  if (!rows.length) return '<p>No traffic in this window.</p>';
  return `<table><tr><th>Name</th>${withTcp ? '<th>Meshed</th>' : ''}<th>Success</th><th>RPS</th><th>P50</th><th>P95</th><th>P99</th>${withTcp ? '<th>TCP conns</th>' : ''}</tr>${rows.map((r) => `<tr data-name="${esc(r.namespace)}/${esc(r.name)}">
    <td>${withTcp ? `<a href="#/workload/${esc(r.namespace)}/${esc(r.name)}">${esc(r.namespace)}/${esc(r.name)}</a>` : `${esc(r.namespace)}/${esc(r.name)}`}</td>${withTcp ? `<td>${r.pods ? `${r.pods.meshed}/${r.pods.total}` : '-'}</td>` : ''}
    <td class="num">${pct(r.successRate)}</td><td class="num">${r.rps.toFixed(1)}</td><td class="num">${ms(r.latencyMs.p50)}</td><td class="num">${ms(r.latencyMs.p95)}</td><td class="num">${ms(r.latencyMs.p99)}</td>${withTcp ? `<td class="num">${r.tcp.open}</td>` : ''}</tr>`).join('')}</table>`;
}

async function graphView(show) {
  const g = await api(`/api/graph?window=${win()}`);
  const W = 900, H = 520, cx = W / 2, cy = H / 2, R = Math.min(W, H) / 2 - 70;
  const ids = [...new Set([...g.nodes.map((n) => n.id), ...g.edges.flatMap((e) => [e.src, e.dst])])].filter((id) => !id.startsWith('unknown/'));
  const pos = new Map(ids.map((id, i) => [id, [cx + R * Math.cos((2 * Math.PI * i) / ids.length), cy + R * Math.sin((2 * Math.PI * i) / ids.length)]]));
  const meshed = new Map(g.nodes.map((n) => [n.id, n.meshed]));
  const edges = g.edges.filter((e) => pos.has(e.src) && pos.has(e.dst)).map((e) => {
    const [x1, y1] = pos.get(e.src), [x2, y2] = pos.get(e.dst);
    const label = e.requests > 0 ? `${e.rps.toFixed(1)} rps · ${pct(e.successRate)} · p99 ${ms(e.p99Ms)}` : `${e.tcpOpen} tcp`;
    return `<g class="edge${e.successRate !== null && e.successRate < 0.95 ? ' failing' : ''}" data-src="${esc(e.src)}" data-dst="${esc(e.dst)}"><line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" marker-end="url(#arrow)"/><text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 4}" text-anchor="middle">${esc(label)}${e.mtls ? ' · mTLS' : ''}</text></g>`;
  }).join('');
  const nodes = ids.map((id) => {
    const [x, y] = pos.get(id);
    return `<a href="#/workload/${esc(id)}"><g class="wl${meshed.get(id) === false ? ' unmeshed' : ''}" data-id="${esc(id)}"><circle cx="${x}" cy="${y}" r="9"/><text x="${x}" y="${y + 24}" text-anchor="middle">${esc(id)}</text></g></a>`;
  }).join('');
  show(`<h2>Service graph</h2><p>${g.edges.length} edges between ${ids.length} workloads (window ${esc(win())}); edge labels: requests per second, success rate, p99 latency.</p>
    <svg id="graph" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="20" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#64748b"/></marker></defs>${edges}${nodes}</svg>
    <h3>Edges</h3><table id="edges"><tr><th>From</th><th>To</th><th>Requests</th><th>RPS</th><th>Success</th><th>P99</th><th>TCP</th><th>mTLS</th></tr>${g.edges.map((e) => `<tr><td>${esc(e.src)}</td><td>${esc(e.dst)}</td><td class="num">${e.requests}</td><td class="num">${e.rps.toFixed(1)}</td><td class="num">${pct(e.successRate)}</td><td class="num">${ms(e.p99Ms)}</td><td class="num">${e.tcpOpen}</td><td>${e.mtls ? '✓' : ''}</td></tr>`).join('')}</table>`);
}

async function workloadsView(show) {
  const r = await api(`/api/stat?kind=workload&window=${win()}`);
  show(`<h2>Workloads</h2>${statTable(r.rows, true)}`);
}

async function routesView(show) {
  const [routes, svcs] = await Promise.all([api(`/api/stat?kind=route&window=${win()}`), api(`/api/stat?kind=service&window=${win()}`)]);
  show(`<h2>Routes</h2>${statTable(routes.rows, false)}<h2>Services</h2>${statTable(svcs.rows, false)}`);
}

async function workloadView(show, ns, name) {
  const key = `${ns}/${name}`;
  const [inbound, outRoutes, outSvcs, wls] = await Promise.all([
    api(`/api/stat?kind=workload&namespace=${encodeURIComponent(ns)}&name=${encodeURIComponent(name)}&window=${win()}`),
    api(`/api/stat?kind=route&from=${encodeURIComponent(key)}&window=${win()}`),
    api(`/api/stat?kind=service&from=${encodeURIComponent(key)}&window=${win()}`),
    api('/api/workloads'),
  ]);
  const wl = wls.workloads.find((w) => w.id === key);
  const pods = wl ? wl.pods : [];
  const exs = await Promise.all(pods.map((p) => api(`/api/explain?pod=${encodeURIComponent(p.key)}`).catch((e) => ({ pod: p.key, error: e.message }))));
  const checks = pods.length === 0 ? '<p class="err">No pod of this workload is known to the controller.</p>' : exs.map((ex) => ex.error ? `<p class="err">${esc(ex.pod)}: ${esc(ex.error)}</p>` : `<h4>${esc(ex.pod)} on ${esc(ex.node)} (${esc(ex.ip)})</h4><p class="explain-summary">${esc(ex.summary)}</p><ul class="checks">${ex.checks.map((c) => `<li data-mark="${c.ok ? '✓' : '✗'}" class="${c.ok ? 'ok' : 'bad'}"><b>${esc(c.what)}</b> ${esc(c.detail)}</li>`).join('')}</ul>
    <p>Identity: ${esc(ex.checks.find((c) => c.what === 'certificate')?.detail ?? 'none (not meshed)')}. Inbound authorization, in order: ${ex.policies.map(esc).join(', ') || 'none'}</p>`).join('');
  const src = pods[0]?.key ?? key;
  if (!show(`<h2>${esc(key)}</h2><h3>Pods: why they are (not) meshed</h3><div id="explain">${checks}</div>
    <h3>Inbound (requests to ${esc(name)})</h3>${statTable(inbound.rows, true)}
    <h3>Outbound by route</h3>${statTable(outRoutes.rows, false)}<h3>Outbound by Service</h3>${statTable(outSvcs.rows, false)}
    <h3>Explain a connection</h3><form class="inline" id="pair"><input id="pair-dst" placeholder="ns/service:port or ip:port" size="30"><input id="pair-path" placeholder="/path" size="12"><button>Explain</button></form><pre id="pair-out"></pre>
    <p><a href="#/tap/${esc(key)}">Tap ${esc(key)}</a></p>`)) return;
  $('#pair').onsubmit = async (ev) => {
    ev.preventDefault();
    try {
      const p = await api(`/api/explain?src=${encodeURIComponent(src)}&dst=${encodeURIComponent($('#pair-dst').value)}${$('#pair-path').value ? `&path=${encodeURIComponent($('#pair-path').value)}` : ''}`);
      $('#pair-out').textContent = [p.summary, ...(p.route ? [`route ${p.route.name} → ${p.route.backends.map((b) => `${b.service} (${b.weight})`).join(', ')}`] : []), ...p.hops.map((h) => `${h.authorization.allow ? '✓' : '✗'} ${h.endpoint} ${h.pod} via ${h.path}; ${h.authorization.allow ? 'allowed' : 'denied'} ${h.authorization.policy}`)].join('\n');
    } catch (e) { $('#pair-out').textContent = e.message; }
  };
}

function tapView(show, target) {
  show(`<h2>Tap</h2><form class="inline" id="tapform"><input id="tap-target" placeholder="namespace or namespace/workload" value="${esc(target ?? '')}" size="28"><input id="tap-path" placeholder="path prefix" size="12"><select id="tap-method"><option value="">any method</option><option>GET</option><option>POST</option><option>PUT</option><option>DELETE</option></select><button id="tap-start">Start</button><button type="button" id="tap-stop">Stop</button></form>
    <p id="tap-state">Not tapping.</p><table id="tap"><tr><th>Time</th><th>Dir</th><th>From</th><th>To</th><th>Method</th><th>Authority</th><th>Path</th><th>Status</th><th>Latency</th><th>Source identity</th></tr></table>`);
  $('#tapform').onsubmit = (ev) => { ev.preventDefault(); startTap(); };
  $('#tap-stop').onclick = () => stopTap('stopped');
  if (target) startTap();
}

function stopTap(why) {
  if (tapStream) { tapStream.abort(); tapStream = null; }
  const s = $('#tap-state');
  if (s && why) s.textContent = `Not tapping (${why}).`;
}

async function startTap() {
  stopTap();
  const target = $('#tap-target').value.trim();
  if (!target) return;
  const q = new URLSearchParams({ target });
  if ($('#tap-path').value) q.set('path', $('#tap-path').value);
  if ($('#tap-method').value) q.set('method', $('#tap-method').value);
  const ctl = new AbortController();
  tapStream = ctl;
  try {
    const r = await fetch(`/api/tap?${q}`, { signal: ctl.signal, headers: authHeaders() });
    if (!r.ok) { const b = await r.json(); $('#tap-state').textContent = `${b.code}: ${b.message}`; return; }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const v = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (v.tap) { $('#tap-state').textContent = `Tapping ${v.target} on ${v.agents.join(', ') || 'no agent'}…`; continue; }
        if (v.end) { $('#tap-state').textContent = `Tap ended: ${v.end}`; continue; }
        const row = document.createElement('tr');
        row.className = 'tap-row';
        row.innerHTML = `<td>${new Date(v.atMs).toLocaleTimeString()}</td><td>${esc(v.direction)}</td><td>${esc(v.srcWorkload || v.src)}</td><td>${esc(v.dstWorkload || v.dst)}</td><td>${esc(v.method)}</td><td>${esc(v.authority)}</td><td>${esc(v.path)}</td><td class="num">${v.status}</td><td class="num">${ms(v.durationMs)}</td><td>${esc(v.srcIdentity)}</td>`;
        const tb = $('#tap').tBodies[0];
        tb.insertBefore(row, tb.rows[1] ?? null);
        while (tb.rows.length > 201) tb.deleteRow(tb.rows.length - 1);
      }
    }
  } catch (e) { if (e.name !== 'AbortError') $('#tap-state').textContent = `Tap failed: ${e.message}`; }
}

// Each route() call renders only while it is the latest: a slow answer for a page the user has
// left (or a periodic refresh overtaken by a click) is dropped. #view's data-route names what it
// shows once rendered; until then a new page shows "Loading…", never the previous page.
let routeSeq = 0;
async function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const parts = h.split('/').filter(Boolean).map(decodeURIComponent);
  const seq = ++routeSeq;
  const show = (html) => {
    if (seq !== routeSeq) return null;
    const v = $('#view');
    v.innerHTML = html;
    v.dataset.route = h;
    return v;
  };
  if (parts[0] !== 'tap') stopTap();
  try {
    if (parts[0] === 'workload' && parts.length === 3) await workloadView(show, parts[1], parts[2]);
    else if (parts[0] === 'workloads') await workloadsView(show);
    else if (parts[0] === 'routes') await routesView(show);
    else if (parts[0] === 'tap') tapView(show, parts.slice(1).join('/'));
    else await graphView(show);
  } catch (e) { show(`<p class="err">${esc(e.message)}</p>`); }
}

function navigate() {
  const v = $('#view');
  delete v.dataset.route;
  v.innerHTML = '<p class="loading">Loading…</p>';
  return route();
}

window.addEventListener('hashchange', navigate);
$('#token').value = sessionStorage.getItem('nodemesh-token') ?? '';
$('#token').addEventListener('change', () => {
  const t = $('#token').value.trim();
  if (t) sessionStorage.setItem('nodemesh-token', t); else sessionStorage.removeItem('nodemesh-token');
  showNodes();
  navigate();
});
$('#window').addEventListener('change', route);
showNodes();
setInterval(showNodes, 3000);
route();
setInterval(() => { if (!location.hash.startsWith('#/tap') && !location.hash.startsWith('#/workload/')) route(); }, 5000);
