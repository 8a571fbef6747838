// Largetable web console: plain ES module, no build step. Talks to /health, /metrics and /api/v1.
const $ = (sel) => document.querySelector(sel);
const api = '/api/v1';
const state = { db: null, coll: null, docs: [], view: 'table', skip: 0 };

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function call(path, init) {
  const res = await fetch(path, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
  const text = await res.text();
  const body = text ? JSON.parse(text) : {};
  if (!res.ok) throw new Error(body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return body;
}

function showError(err) {
  const p = $('#error');
  if (!err) { p.hidden = true; p.textContent = ''; return; }
  p.hidden = false;
  p.textContent = String(err.message ?? err);
}

/** Compact display of an Extended JSON value in a table cell. */
function cell(v) {
  if (v === null || v === undefined) return String(v);
  if (typeof v !== 'object') return String(v);
  if ('$oid' in v) return `ObjectId(${v.$oid})`;
  if ('$date' in v) return typeof v.$date === 'string' ? v.$date : JSON.stringify(v.$date);
  if ('$numberLong' in v) return v.$numberLong;
  if ('$numberDecimal' in v) return v.$numberDecimal;
  return JSON.stringify(v);
}

function renderResults() {
  const box = $('#results');
  box.replaceChildren();
  $('#result-count').textContent = `${state.docs.length} document(s)`;
  if (state.view === 'json') {
    box.append(el('pre', { id: 'results-json', text: JSON.stringify(state.docs, null, 2) }));
    return;
  }
  const cols = [];
  for (const d of state.docs) for (const k of Object.keys(d)) if (!cols.includes(k)) cols.push(k);
  const table = el('table', { class: 'grid', id: 'results-table' });
  table.append(el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { text: c })))));
  const tbody = el('tbody');
  for (const d of state.docs) tbody.append(el('tr', {}, ...cols.map((c) => el('td', { text: c in d ? cell(d[c]) : '', title: c in d ? JSON.stringify(d[c]) : '' }))));
  table.append(tbody);
  box.append(table);
}

/** Draw an explain plan (winningPlan with inputStage / inputStages) as a nested tree. */
function planNode(stage) {
  if (!stage || typeof stage !== 'object') return el('li', { text: String(stage) });
  const { inputStage, inputStages, stage: name, ...rest } = stage;
  const detail = Object.entries(rest).filter(([, v]) => typeof v !== 'object' || v === null).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  const objs = Object.entries(rest).filter(([, v]) => v && typeof v === 'object').map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  const li = el('li', {}, el('span', { class: 'node' }, el('b', { text: name ?? 'STAGE' }), ' ', [detail, objs].filter(Boolean).join(', ')));
  const kids = inputStages ?? (inputStage ? [inputStage] : []);
  if (kids.length) li.append(el('ul', {}, ...kids.map(planNode)));
  return li;
}

function renderPlan(explain) {
  const qp = explain.queryPlanner ?? explain.stages?.[0]?.$cursor?.queryPlanner ?? explain;
  const root = qp.winningPlan ?? qp;
  $('#plan').hidden = false;
  $('#plan-tree').replaceChildren(el('ul', {}, planNode(root)));
}

async function loadHealth() {
  try {
    const h = await call('/health');
    $('#status').textContent = `${h.status} · v${h.version} · ${h.runtime} · kernels: ${h.kernel}`;
    $('#status').className = 'status ok';
    const dl = $('#health');
    dl.replaceChildren();
    for (const [k, v] of Object.entries(h)) dl.append(el('dt', { text: k }), el('dd', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) }));
  } catch (err) {
    $('#status').textContent = `unreachable: ${err.message}`;
    $('#status').className = 'status';
  }
}

async function loadMetrics() {
  try {
    const text = await (await fetch('/metrics')).text();
    const rows = text.split('\n').filter((l) => l && !l.startsWith('#') && !l.includes('_bucket{'));
    const tbody = $('#metrics tbody');
    tbody.replaceChildren(...rows.slice(0, 200).map((l) => { const i = l.lastIndexOf(' '); return el('tr', {}, el('td', { text: l.slice(0, i) }), el('td', { text: l.slice(i + 1) })); }));
  } catch { /* next tick retries */ }
}

async function loadTree() {
  try {
    const { databases } = await call(`${api}/databases`);
    const ul = $('#databases');
    ul.replaceChildren();
    for (const d of databases) {
      const sub = el('ul');
      const li = el('li', {}, el('a', { text: d.name, 'data-db': d.name }), sub);
      ul.append(li);
      const { collections } = await call(`${api}/databases/${encodeURIComponent(d.name)}/collections`);
      for (const c of collections) sub.append(el('li', {}, el('a', { text: c.name, 'data-coll': `${d.name}.${c.name}`, onclick: () => openCollection(d.name, c.name) })));
    }
  } catch (err) { showError(err); }
}

function collPath() { return `${api}/databases/${encodeURIComponent(state.db)}/collections/${encodeURIComponent(state.coll)}`; }

function parseField(text, name, fallback) {
  if (!text.trim()) return fallback;
  try { return JSON.parse(text); } catch (err) { throw new Error(`${name}: ${err.message}`); }
}

async function runQuery(explain = false) {
  showError(null);
  const f = $('#query-form');
  try {
    const body = {
      filter: parseField(f.filter.value, 'filter', {}),
      sort: parseField(f.sort.value, 'sort', undefined),
      projection: parseField(f.projection.value, 'projection', undefined),
      limit: Number(f.limit.value || 20),
      skip: state.skip,
    };
    if (explain) { renderPlan(await call(`${collPath()}/explain`, { method: 'POST', body: JSON.stringify(body) })); return; }
    state.docs = (await call(`${collPath()}/find`, { method: 'POST', body: JSON.stringify(body) })).documents;
    renderResults();
    if (state.skip > 0) $('#result-count').textContent += ` (from ${state.skip + 1})`;
  } catch (err) { showError(err); }
}

async function runAggregate() {
  showError(null);
  try {
    const pipeline = parseField($('#aggregate-form').pipeline.value, 'pipeline', []);
    state.docs = (await call(`${collPath()}/aggregate`, { method: 'POST', body: JSON.stringify({ pipeline }) })).documents;
    renderResults();
  } catch (err) { showError(err); }
}

async function loadIndexes() {
  try {
    const { indexes } = await call(`${collPath()}/indexes`);
    $('#indexes tbody').replaceChildren(...indexes.map((ix) => el('tr', {},
      el('td', { text: ix.name }), el('td', { text: JSON.stringify(ix.key) }), el('td', { text: ix.unique ? 'yes' : '' }),
      el('td', {}, ix.name === '_id_' ? '' : el('button', { type: 'button', text: 'drop', onclick: async () => {
        try { await call(`${collPath()}/indexes/${encodeURIComponent(ix.name)}`, { method: 'DELETE' }); await loadIndexes(); } catch (err) { showError(err); }
      } })))));
  } catch (err) { showError(err); }
}

function openCollection(db, coll) {
  state.db = db; state.coll = coll;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.coll === `${db}.${coll}`);
  $('#welcome').hidden = true;
  $('#collection').hidden = false;
  $('#plan').hidden = true;
  $('#ns').textContent = `${db}.${coll}`;
  state.skip = 0;
  void runQuery();
  void loadIndexes();
}

function showHome() {
  state.db = null; state.coll = null;
  for (const a of document.querySelectorAll('nav a')) a.classList.remove('active');
  $('#collection').hidden = true;
  $('#welcome').hidden = false;
  void loadHealth(); void loadMetrics(); void loadTree();
}

function wire() {
  $('header h1').addEventListener('click', showHome);
  for (const b of document.querySelectorAll('.tabs button')) {
    b.addEventListener('click', () => {
      for (const x of document.querySelectorAll('.tabs button')) x.classList.toggle('active', x === b);
      for (const p of document.querySelectorAll('.pane')) p.hidden = p.dataset.pane !== b.dataset.tab;
    });
  }
  $('#query-form').addEventListener('submit', (e) => { e.preventDefault(); state.skip = 0; void runQuery(); });
  const pageSize = () => Number($('#query-form').limit.value || 20);
  $('#page-next').addEventListener('click', () => { if (state.docs.length >= pageSize()) { state.skip += pageSize(); void runQuery(); } });
  $('#page-prev').addEventListener('click', () => { if (state.skip > 0) { state.skip = Math.max(0, state.skip - pageSize()); void runQuery(); } });
  $('#run-explain').addEventListener('click', () => void runQuery(true));
  $('#aggregate-form').addEventListener('submit', (e) => { e.preventDefault(); void runAggregate(); });
  $('#index-form').addEventListener('submit', async (e) => {
    e.preventDefault(); showError(null);
    const f = e.target;
    try {
      await call(`${collPath()}/indexes`, { method: 'POST', body: JSON.stringify({ key: parseField(f.key.value, 'key', {}), unique: f.unique.checked }) });
      f.reset(); await loadIndexes();
    } catch (err) { showError(err); }
  });
  for (const r of document.querySelectorAll('input[name=view]')) r.addEventListener('change', () => { state.view = r.value; renderResults(); });
}

wire();
await loadHealth();
await loadMetrics();
await loadTree();
setInterval(() => { void loadHealth(); void loadMetrics(); }, 5000);
window.largetableConsole = { openCollection, runQuery, state };
