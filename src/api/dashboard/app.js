/* global sessionStorage, Node, TextDecoderStream -- browser globals; this file runs in the page */
// jitpool dashboard: plain browser JavaScript, no build step, no third-party code. Data comes
// from the authenticated API; live updates from /events (server-sent events read through
// fetch, so the token travels in the Authorization header, never in a URL).

const TOKEN_KEY = 'jitpool.token';
const MAX_FEED = 200;
const MAX_POINTS = 300;

const state = { pools: [], runners: [], jobs: [], unservable: [], points: new Map(), lastEventId: null, isDraining: false };

/** The admin token: taken once from `?token=`, kept in sessionStorage, removed from the address bar. */
function takeToken() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}
const token = takeToken();
const authHeaders = token ? { authorization: `Bearer ${token}` } : {};

function showBanner(text) {
  const banner = document.getElementById('banner');
  banner.textContent = text;
  banner.hidden = !text;
}

async function api(path) {
  const res = await fetch(path, { headers: authHeaders });
  if (res.status === 401) {
    showBanner('This dashboard needs the admin token: open it once as /?token=<your token> (it is kept for this tab only).');
    throw new Error('unauthorized');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function formatSeconds(seconds) {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} m ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} m`;
}

function renderPools() {
  const body = document.querySelector('#pools tbody');
  body.replaceChildren(...state.pools.map((pool) => el('tr', { 'data-pool': pool.name },
    el('td', {}, pool.name), el('td', { class: 'muted' }, pool.labels.join(', ')),
    el('td', {}, pool.minIdle), el('td', {}, pool.max),
    el('td', {}, pool.counts.booting), el('td', {}, pool.counts.idle), el('td', {}, pool.counts.busy), el('td', {}, pool.counts.stopping),
    el('td', {}, pool.queued),
    el('td', { class: 'muted' }, pool.bootToOnline && pool.bootToOnline.p50Ms !== null ? `${pool.bootToOnline.p50Ms} ms` : '—'),
    el('td', { class: pool.unservable > 0 ? 'state state-failed' : 'muted' }, pool.unservable ?? 0),
    el('td', { class: pool.health.degraded ? 'state state-failed' : 'state state-idle' }, pool.health.degraded ? `degraded (${pool.health.consecutiveFailures})` : 'ok'),
  )));
}

function renderRunners() {
  const now = Date.now();
  const body = document.querySelector('#runners tbody');
  body.replaceChildren(...state.runners.map((runner) => el('tr', { 'data-runner-id': runner.id, 'data-state': runner.state },
    el('td', {}, runner.name), el('td', {}, runner.pool),
    el('td', { class: `state state-${runner.state}` }, runner.state),
    // A removed runner's age stops at its removal: it shows how long the runner lived.
    el('td', { class: 'age' }, formatSeconds(Math.max(0, (runner.state === 'removed' ? runner.stateSinceMs : now) - runner.createdAtMs) / 1000)),
    el('td', {}, runner.jobId ?? ''),
  )));
  const live = state.runners.filter((r) => r.state !== 'removed').length;
  document.getElementById('runner-summary').textContent = `${live} alive, ${state.runners.length - live} recently removed`;
}

function renderJobs() {
  const body = document.querySelector('#jobs tbody');
  body.replaceChildren(...state.jobs.map((job) => el('tr', { 'data-job-id': String(job.id), 'data-state': job.state },
    el('td', {}, job.name), el('td', { class: 'muted' }, `${job.owner}/${job.repo}`), el('td', {}, job.pool ?? '—'),
    jobStateCell(job),
    el('td', {}, job.queueWaitMs === null ? '…' : formatSeconds(job.queueWaitMs / 1000)),
  )));
}

function jobStateCell(job) {
  if (job.unservableReason && job.state !== 'completed' && job.state !== 'gone') {
    return el('td', { class: 'state state-failed', title: job.unservableReason }, `unservable (${job.state})`);
  }
  const kind = job.state === 'completed' || job.state === 'gone' ? 'removed' : job.state === 'in_progress' ? 'busy' : 'provisioning';
  return el('td', { class: `state state-${kind}` }, job.conclusion ? `${job.state} (${job.conclusion})` : job.state);
}

/** Jobs no pool can serve, with the reason: they are never demand, so an operator must see why. */
function renderUnservable() {
  document.getElementById('unservable-card').hidden = state.unservable.length === 0;
  document.getElementById('unservable-summary').textContent = state.unservable.length > 0 ? `${state.unservable.length} shown` : '';
  document.querySelector('#unservable tbody').replaceChildren(...state.unservable.map((job) => el('tr', { 'data-job-id': String(job.id) },
    el('td', {}, job.name), el('td', { class: 'muted' }, `${job.owner}/${job.repo}`), el('td', {}, job.pool ?? '—'), el('td', {}, job.unservableReason),
  )));
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** The queue-wait chart: each started job's wait, in start order, as an inline SVG line. */
function renderChart() {
  const points = [...state.points.values()].sort((a, b) => a.startedAtMs - b.startedAtMs).slice(-MAX_POINTS);
  const width = 800;
  const height = 180;
  const pad = { left: 44, right: 8, top: 10, bottom: 24 };
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'queue wait per job' });
  const maxWait = Math.max(1000, ...points.map((p) => p.waitMs));
  const t0 = points.length ? points[0].startedAtMs : 0;
  const t1 = points.length ? Math.max(t0 + 1000, points[points.length - 1].startedAtMs) : 1;
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (ms) => height - pad.bottom - (ms / maxWait) * (height - pad.top - pad.bottom);
  root.append(svg('line', { class: 'axis', x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }));
  root.append(svg('line', { class: 'axis', x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom }));
  const top = svg('text', { x: 4, y: pad.top + 10 });
  top.textContent = formatSeconds(maxWait / 1000);
  const zero = svg('text', { x: 4, y: height - pad.bottom });
  zero.textContent = '0 s';
  root.append(top, zero);
  // Time labels under the x axis: the first, middle and last start.
  if (points.length > 0) {
    for (const [t, anchor] of [[t0, 'start'], [(t0 + t1) / 2, 'middle'], [t1, 'end']]) {
      const label = svg('text', { x: x(t).toFixed(1), y: height - 4, 'text-anchor': anchor, class: 'tick' });
      label.textContent = new Date(t).toLocaleTimeString();
      root.append(label);
    }
  }
  if (points.length > 0) {
    root.append(svg('polyline', { class: 'line', points: points.map((p) => `${x(p.startedAtMs).toFixed(1)},${y(p.waitMs).toFixed(1)}`).join(' ') }));
    for (const p of points.slice(-60)) root.append(svg('circle', { class: 'dot', cx: x(p.startedAtMs).toFixed(1), cy: y(p.waitMs).toFixed(1), r: 2 }));
    const sorted = points.map((p) => p.waitMs).sort((a, b) => a - b);
    const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)];
    document.getElementById('chart-summary').textContent = `${points.length} jobs started, p95 ${formatSeconds(p95 / 1000)}`;
  }
  document.getElementById('chart').replaceChildren(root);
}

function addFeed(transition) {
  const feed = document.getElementById('feed');
  const time = new Date(transition.atMs).toLocaleTimeString();
  const change = transition.fromState ? `${transition.fromState} → ${transition.toState}` : transition.toState;
  const item = el('li', { 'data-entity': transition.entity, 'data-to': transition.toState },
    el('span', { class: 'time' }, time), `${transition.entity} ${transition.entityId}: ${change}${transition.reason ? ` — ${transition.reason}` : ''}`);
  document.getElementById('feed-empty')?.remove();
  feed.prepend(item);
  while (feed.children.length > MAX_FEED) feed.lastElementChild.remove();
}

async function refresh() {
  const [pools, runners, jobs, unservable, status] = await Promise.all([
    api('/api/v1/pools'), api('/api/v1/runners?limit=60'), api('/api/v1/jobs?limit=40'), api('/api/v1/jobs?unservable=true&limit=20'), api('/status'),
  ]);
  state.isDraining = status.isDraining === true;
  state.pools = pools.pools;
  state.runners = runners.runners;
  state.jobs = jobs.jobs;
  state.unservable = unservable.jobs;
  for (const job of jobs.jobs) if (job.queueWaitMs !== null && job.startedAtMs !== null) state.points.set(job.id, { startedAtMs: job.startedAtMs, waitMs: job.queueWaitMs });
  renderPools();
  renderRunners();
  renderJobs();
  renderUnservable();
  renderChart();
  renderActivity();
}

/** One line saying what the controller is doing: draining, working, or done with everything queued. */
function renderActivity() {
  const banner = document.getElementById('activity');
  const queued = state.pools.reduce((n, pool) => n + pool.queued, 0);
  const busy = state.pools.reduce((n, pool) => n + pool.counts.busy, 0);
  const booting = state.pools.reduce((n, pool) => n + pool.counts.booting, 0);
  let text = '';
  if (state.isDraining && busy === 0 && booting === 0) text = 'Drained: nothing new is launched and no runner is left working (the controller is shutting down, or the demo\'s workload is done).';
  else if (state.isDraining) text = `Draining: nothing new is launched; ${busy} busy runner(s) finish their jobs, idle ones are removed.`;
  else if (queued > 0 || busy > 0 || booting > 0) text = `Working: ${queued} job(s) queued, ${busy} running, ${booting} runner(s) booting.`;
  else if (state.jobs.length > 0) text = 'All caught up: no job is queued or running. Pools keep their min idle runners warm.';
  banner.dataset.kind = state.isDraining ? 'draining' : queued > 0 || busy > 0 || booting > 0 ? 'working' : 'done';
  banner.textContent = text;
  banner.hidden = !text;
}

/** The chart starts from the store's history, not only from what this tab saw. */
async function loadHistory() {
  const history = await api('/api/v1/jobs?state=completed&limit=300');
  for (const job of history.jobs) if (job.queueWaitMs !== null && job.startedAtMs !== null) state.points.set(job.id, { startedAtMs: job.startedAtMs, waitMs: job.queueWaitMs });
}

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh().catch(() => {});
  }, 1000);
}

function setConnection(kind, text) {
  const conn = document.getElementById('conn');
  conn.dataset.state = kind;
  conn.textContent = text;
}

/** Reads /events as a stream and parses server-sent events; reconnects with Last-Event-ID. */
async function follow() {
  let delayMs = 500;
  for (;;) {
    try {
      const headers = { ...authHeaders, accept: 'text/event-stream' };
      if (state.lastEventId !== null) headers['last-event-id'] = state.lastEventId;
      const res = await fetch('/events', { headers });
      if (res.status === 401) {
        setConnection('error', 'unauthorized');
        showBanner('This dashboard needs the admin token: open it once as /?token=<your token> (it is kept for this tab only).');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setConnection('live', 'live');
      delayMs = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          handleEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Fall through to the reconnect below.
    }
    setConnection('connecting', 'reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(10_000, delayMs * 2);
  }
}

function handleEvent(block) {
  let id = null;
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (id !== null) state.lastEventId = id;
  if (!data) return;
  addFeed(JSON.parse(data));
  scheduleRefresh();
}

async function main() {
  try {
    const status = await api('/status');
    document.getElementById('controller').textContent = `controller ${status.controllerId} · reconcile every ${status.pollIntervalSeconds} s`;
    await loadHistory();
    await refresh();
  } catch {
    setConnection('error', 'offline');
  }
  setInterval(renderRunners, 1000);
  // A slow full refresh as well, so figures stay right even if an event was missed.
  setInterval(() => refresh().catch(() => {}), 10_000);
  void follow();
}

void main();
