/* The admin dashboard page (GET /admin/): asks for the admin token once,
 * keeps it in sessionStorage, and sends it as an Authorization header to
 * GET /admin/analytics/dashboard, .../anomalies, .../forecast and
 * GET /admin/feature-requests; never in a URL. The live refresh starts as
 * the server's analytics.real_time_dashboard_enabled says. Draws with Chart.js (vendor/chart.umd.js, pinned in
 * package-lock.json). Sections the server does not send are skipped. */
(function () {
  'use strict';

  var TOKEN_KEY = 'tlm.admin_token';
  var WINDOWS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3,
    '30d': 30 * 86400e3 };
  var nf = new Intl.NumberFormat('en-US');
  var charts = {};
  var timer = null;
  var inFlight = false;
  var loads = 0;
  var memoryToken = ''; // when sessionStorage is disabled
  var liveFromServer = false; // the server's real_time settings applied

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fmtNum(v) {
    return typeof v === 'number' && isFinite(v) ? nf.format(v) : '–';
  }

  function fmtPct(v) {
    return typeof v === 'number' && isFinite(v)
      ? (v * 100).toFixed(2) + '%' : '–';
  }

  function fmtTime(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  /* A number cell or value: the raw value in data-value for tests and
   * tools, the formatted one as text. */
  function setNum(node, v, fmt) {
    node.textContent = (fmt || fmtNum)(v);
    node.setAttribute('data-value', v === null || v === undefined ? '' : v);
  }

  function status(msg, isError) {
    var s = $('status');
    s.textContent = msg;
    s.classList.toggle('error', !!isError);
  }

  // ---- the token ----------------------------------------------------------

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token lives until reload */ }
    memoryToken = t;
  }

  function currentToken() { return token() || memoryToken; }

  function showLogin(message) {
    stopTimer();
    $('dash').hidden = true;
    $('login').hidden = false;
    var err = $('token-error');
    err.textContent = message || '';
    err.hidden = !message;
    $('token').setAttribute('aria-invalid', message ? 'true' : 'false');
    $('token').focus();
    document.documentElement.setAttribute('data-state', 'login');
  }

  function showDash() {
    $('login').hidden = true;
    $('dash').hidden = false;
  }

  // ---- fetching -----------------------------------------------------------

  function AuthError(msg) { this.message = msg; }

  function getJSON(path) {
    return fetch(path, {
      method: 'GET',
      headers: { 'Authorization': 'Bearer ' + currentToken(),
        'Accept': 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer'
    }).then(function (r) {
      if (r.status === 401 || r.status === 403)
        throw new AuthError('The server refused this token (' + r.status + ').');
      return r.json().catch(function () { return null; }).then(function (doc) {
        if (!r.ok)
          throw new Error(path.split('?')[0] + ': ' + r.status +
            (doc && doc.error ? ' ' + doc.error : ''));
        return doc;
      });
    });
  }

  function filters() {
    var w = WINDOWS[$('window').value] || WINDOWS['24h'];
    var to = new Date();
    var from = new Date(to.getTime() - w);
    var f = { from: from.toISOString(), to: to.toISOString(),
      environment: $('environment').value };
    var tier = $('tier').value.trim();
    if (tier) f.tier = tier;
    return f;
  }

  function query(f) {
    return Object.keys(f).map(function (k) {
      return encodeURIComponent(k) + '=' + encodeURIComponent(f[k]);
    }).join('&');
  }

  var again = false; // a load was asked for while one was in flight

  function load() {
    if (!currentToken()) return Promise.resolve();
    if (inFlight) {
      again = true; // e.g. a filter changed during a live refresh
      return Promise.resolve();
    }
    inFlight = true;
    again = false;
    var f = filters();
    status('Loading…');
    document.documentElement.setAttribute('data-state', 'loading');
    function optional(path) {
      return getJSON(path).catch(function (e) {
        if (e instanceof AuthError) throw e;
        return null; // shown as unavailable, the rest still renders
      });
    }
    return Promise.all([
      getJSON('/admin/analytics/dashboard?' + query(f)),
      optional('/admin/feature-requests?sort=votes&limit=10'),
      optional('/admin/analytics/anomalies?' + query(f)),
      optional('/admin/analytics/forecast?top=3&' + query(f))
    ]).then(function (res) {
      showDash();
      applyRealTime(res[0]);
      render(res[0], f);
      renderRanking(res[1]);
      renderAnomalies(res[2]);
      renderForecast(res[3]);
      loads += 1;
      document.documentElement.setAttribute('data-loads', String(loads));
      document.documentElement.setAttribute('data-state', 'ready');
      status('Updated ' + new Date().toLocaleTimeString() + '.');
    }).catch(function (e) {
      if (e instanceof AuthError) {
        setToken('');
        showLogin(e.message);
        status('');
      } else {
        document.documentElement.setAttribute('data-state', 'error');
        status('Could not load the dashboard: ' + e.message, true);
      }
    }).then(function () {
      inFlight = false;
      if (again && !$('dash').hidden) return load();
      schedule();
    });
  }

  // ---- live refresh -------------------------------------------------------

  function stopTimer() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  /* The first answer's "real_time" decides whether the page refreshes
   * itself and how often; the user's later changes win. */
  function applyRealTime(doc) {
    var rt = doc && doc.real_time;
    if (liveFromServer || !rt) return;
    liveFromServer = true;
    $('live').checked = !!rt.enabled;
    if (rt.refresh_seconds >= 5) $('interval').value = String(rt.refresh_seconds);
    document.documentElement.setAttribute('data-live', rt.enabled ? 'on' : 'off');
  }

  function schedule() {
    stopTimer();
    if (!$('live').checked || !currentToken() || $('dash').hidden) return;
    var s = parseInt($('interval').value, 10);
    if (!(s >= 5)) s = 30;
    timer = setTimeout(load, s * 1000);
  }

  // ---- charts -------------------------------------------------------------

  function chart(id, config) {
    if (charts[id]) {
      charts[id].destroy();
      delete charts[id];
    }
    var canvas = $(id);
    if (!canvas || typeof window.Chart === 'undefined') return null;
    config.options = Object.assign({
      responsive: true, maintainAspectRatio: false, animation: false
    }, config.options || {});
    charts[id] = new window.Chart(canvas, config);
    return charts[id];
  }

  var PALETTE = ['#1f5fbf', '#b3261e', '#2e7d32', '#8e44ad', '#e67e22',
    '#16a085', '#7f8c8d'];

  /* The time series as [{t: Date, values: {name: number}}], whatever shape
   * the server sends: an array of points, or {points|buckets|series: [...]}.
   * A point's time is the first of t, ts, time, bucket, minute, start. */
  function seriesPoints(ts) {
    var arr = Array.isArray(ts) ? ts : null;
    if (!arr && ts && typeof ts === 'object')
      arr = ts.points || ts.buckets || ts.series || ts.items || null;
    if (!Array.isArray(arr)) return [];
    var out = [];
    arr.forEach(function (p) {
      if (!p || typeof p !== 'object') return;
      var tk = ['t', 'ts', 'time', 'bucket', 'minute', 'start', 'from']
        .filter(function (k) { return p[k] !== undefined; })[0];
      if (!tk) return;
      var values = {};
      Object.keys(p).forEach(function (k) {
        if (k !== tk && typeof p[k] === 'number') values[k] = p[k];
      });
      out.push({ t: p[tk], values: values });
    });
    return out;
  }

  function shortTime(t, spanMs) {
    var d = typeof t === 'number' ? new Date(t) : new Date(String(t));
    if (isNaN(d.getTime())) return String(t);
    if (spanMs > 2 * 86400e3)
      return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) +
        ' ' + d.toLocaleTimeString(undefined, { hour: '2-digit' });
    return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }

  function renderTraffic(doc, f) {
    var pts = seriesPoints(doc.timeseries);
    var span = Date.parse(f.to) - Date.parse(f.from);
    if (pts.length) {
      var names = [];
      pts.forEach(function (p) {
        Object.keys(p.values).forEach(function (k) {
          if (names.indexOf(k) < 0) names.push(k);
        });
      });
      $('traffic-note').textContent = 'Per time bucket over the window.';
      $('chart-traffic').setAttribute('aria-label',
        'Line chart over time of ' + names.join(', '));
      chart('chart-traffic', {
        type: 'line',
        data: {
          labels: pts.map(function (p) { return shortTime(p.t, span); }),
          datasets: names.map(function (n, i) {
            return { label: n, data: pts.map(function (p) {
              return p.values[n] === undefined ? null : p.values[n]; }),
            borderColor: PALETTE[i % PALETTE.length],
            backgroundColor: PALETTE[i % PALETTE.length],
            pointRadius: 0, tension: 0.2 };
          })
        },
        options: { interaction: { mode: 'index', intersect: false },
          scales: { y: { beginAtZero: true } } }
      });
      return;
    }
    var eps = (doc.endpoints || []).filter(function (e) {
      return e.requests > 0; }).slice(0, 15);
    $('traffic-note').textContent = eps.length
      ? 'Requests per endpoint in the window (the server sends no time series yet).'
      : 'No requests in this window.';
    $('chart-traffic').setAttribute('aria-label',
      'Bar chart of requests per endpoint');
    chart('chart-traffic', {
      type: 'bar',
      data: {
        labels: eps.map(function (e) { return e.endpoint; }),
        datasets: [{ label: 'Requests', data: eps.map(function (e) {
          return e.requests; }), backgroundColor: PALETTE[0] },
        { label: 'Errors', data: eps.map(function (e) { return e.errors; }),
          backgroundColor: PALETTE[1] }]
      },
      options: { scales: { y: { beginAtZero: true } } }
    });
  }

  /* An endpoint's own series, when the server sends one: numbers, or
   * points with a requests/count value. */
  function sparkValues(e) {
    var s = e.sparkline || e.series || e.timeseries;
    if (!Array.isArray(s) || s.length < 2) return null;
    var v = s.map(function (p) {
      if (typeof p === 'number') return p;
      if (p && typeof p === 'object')
        return typeof p.requests === 'number' ? p.requests
          : typeof p.count === 'number' ? p.count : null;
      return null;
    });
    return v.some(function (x) { return x !== null; }) ? v : null;
  }

  function renderEndpoints(doc) {
    Object.keys(charts).forEach(function (id) {
      if (id.indexOf('spark-') === 0) { charts[id].destroy(); delete charts[id]; }
    });
    var body = $('endpoints').tBodies[0];
    clear(body);
    var eps = doc.endpoints || [];
    if (!eps.length) {
      var tr = el('tr');
      tr.appendChild(el('td', { colspan: '7', class: 'empty' },
        'No endpoints in this window.'));
      body.appendChild(tr);
      return;
    }
    eps.slice(0, 100).forEach(function (e, i) {
      var tr = el('tr', { 'data-endpoint': e.endpoint });
      tr.appendChild(el('th', { scope: 'row' }, e.endpoint));
      [['requests', fmtNum], ['error_rate', fmtPct], ['p50_ms', fmtNum],
        ['p95_ms', fmtNum], ['p99_ms', fmtNum]].forEach(function (c) {
        var td = el('td', { class: 'n', 'data-field': c[0] });
        setNum(td, e[c[0]], c[1]);
        tr.appendChild(td);
      });
      var cell = el('td', { class: 'spark' });
      var values = sparkValues(e);
      if (values) {
        var box = el('div', { class: 'spark-box' });
        var id = 'spark-' + i;
        box.appendChild(el('canvas', { id: id, role: 'img',
          'aria-label': 'Trend of requests for ' + e.endpoint }));
        cell.appendChild(box);
        tr.appendChild(cell);
        body.appendChild(tr);
        chart(id, {
          type: 'line',
          data: { labels: values.map(function (_, k) { return k; }),
            datasets: [{ data: values, borderColor: PALETTE[0],
              borderWidth: 1.5, pointRadius: 0, tension: 0.3 }] },
          options: { plugins: { legend: { display: false },
            tooltip: { enabled: false } },
          scales: { x: { display: false }, y: { display: false } },
          events: [] }
        });
        return;
      }
      cell.appendChild(el('span', { class: 'empty' }, '–'));
      tr.appendChild(cell);
      body.appendChild(tr);
    });
  }

  function renderErrors(doc) {
    var body = $('error-groups').tBodies[0];
    var alerts = $('alerts');
    clear(body);
    clear(alerts);
    var errs = doc.errors || {};
    var groups = errs.top_groups || [];
    if (!groups.length) {
      var tr = el('tr');
      tr.appendChild(el('td', { colspan: '5', class: 'empty' },
        'No error groups in this window.'));
      body.appendChild(tr);
    }
    groups.forEach(function (g) {
      var tr = el('tr', { 'data-id': g.id || '' });
      tr.appendChild(el('th', { scope: 'row' }, g.title || g.error_code || g.id));
      tr.appendChild(el('td', { class: 'sev-' + (g.impact || '') },
        g.impact || '–'));
      var ev = el('td', { class: 'n', 'data-field': 'events' });
      setNum(ev, g.events);
      tr.appendChild(ev);
      var us = el('td', { class: 'n', 'data-field': 'users' });
      setNum(us, g.users_affected);
      tr.appendChild(us);
      var td = el('td');
      td.appendChild(el('time', { datetime: g.last_seen || '' },
        fmtTime(g.last_seen)));
      tr.appendChild(td);
      body.appendChild(tr);
    });
    var list = errs.alerts || [];
    if (!list.length) alerts.appendChild(el('li', { class: 'empty' }, 'No alerts.'));
    list.slice(0, 20).forEach(function (a) {
      var li = el('li');
      var when = a.created_at || a.fired_at || a.at || a.time || '';
      if (when) {
        li.appendChild(el('time', { datetime: when }, fmtTime(when)));
        li.appendChild(document.createTextNode(' — '));
      }
      li.appendChild(el('span', { class: 'sev-' + (a.level || a.severity || '') },
        a.level || a.severity || 'alert'));
      li.appendChild(document.createTextNode(' ' +
        (a.title || a.group_title || a.message || a.group_id || '')));
      alerts.appendChild(li);
    });
  }

  function renderFeedback(doc) {
    var fb = doc.feedback;
    if (!fb) {
      setNum($('fb-volume'), null);
      setNum($('fb-mean'), null);
      $('fb-classes').textContent = 'unavailable';
      chart('chart-categories', { type: 'bar', data: { labels: [], datasets: [] } });
      chart('chart-sentiment-trend', { type: 'line', data: { labels: [], datasets: [] } });
      return;
    }
    setNum($('fb-volume'), fb.volume);
    setNum($('fb-mean'), fb.mean_sentiment, function (v) {
      return typeof v === 'number' ? v.toFixed(3) : '–'; });
    var s = fb.sentiment || {};
    $('fb-classes').textContent = fmtNum(s.positive) + ' / ' +
      fmtNum(s.neutral) + ' / ' + fmtNum(s.negative);
    var cats = fb.categories || [];
    chart('chart-categories', {
      type: 'bar',
      data: { labels: cats.map(function (c) { return c.category; }),
        datasets: [{ label: 'Feedback', data: cats.map(function (c) {
          return c.count; }), backgroundColor: PALETTE[0] }] },
      options: { plugins: { title: { display: true, text: 'By category' } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    // weekly mean sentiment, all categories together (count-weighted)
    var weeks = {};
    (fb.trends || []).forEach(function (t) {
      var w = weeks[t.week] || (weeks[t.week] = { n: 0, sum: 0 });
      w.n += t.count;
      w.sum += t.count * t.mean_sentiment;
    });
    var labels = Object.keys(weeks).sort();
    chart('chart-sentiment-trend', {
      type: 'line',
      data: { labels: labels, datasets: [{ label: 'Mean sentiment',
        data: labels.map(function (k) {
          return weeks[k].n ? weeks[k].sum / weeks[k].n : null; }),
        borderColor: PALETTE[2], backgroundColor: PALETTE[2], tension: 0.2 }] },
      options: { plugins: { title: { display: true, text: 'Weekly trend' } },
        scales: { y: { min: -1, max: 1 } } }
    });
  }

  function renderAnomalies(doc) {
    var tb = $('anomalies').querySelector('tbody');
    clear(tb);
    var note = $('anomalies-note');
    if (!doc) {
      note.textContent = 'Anomalies unavailable.';
      return;
    }
    var list = Array.isArray(doc.anomalies) ? doc.anomalies : [];
    var checked = Array.isArray(doc.endpoints_checked) ? doc.endpoints_checked : [];
    note.textContent = 'Checked ' + checked.length + ' busiest endpoint' +
      (checked.length === 1 ? '' : 's') + ', ' +
      (doc.step_ms === 60000 ? 'minute' : 'hour') + ' by hour against ' +
      'their own history since ' + fmtTime(doc.history_from) + '.';
    if (!list.length) {
      var tr = el('tr');
      tr.appendChild(el('td', { colspan: '6', class: 'empty' }, 'No anomaly.'));
      tb.appendChild(tr);
      return;
    }
    list.slice(0, 50).forEach(function (a) {
      var row = el('tr', { 'data-endpoint': a.endpoint, 'data-metric': a.metric,
        'data-start': a.start, 'class': 'severity-' + a.severity_label });
      var unit = a.metric === 'error_rate' ? fmtPct : fmtNum;
      row.appendChild(el('td', {}, a.endpoint));
      row.appendChild(el('td', {}, a.metric.replace(/_/g, ' ')));
      row.appendChild(el('td', {}, fmtTime(a.start) + (a.ongoing ? ' (ongoing)' : '')));
      row.appendChild(el('td', { class: 'n', 'data-value': String(a.observed) },
        unit(a.observed)));
      row.appendChild(el('td', { class: 'n' }, unit(a.low) + ' – ' + unit(a.high)));
      row.appendChild(el('td', {}, a.severity_label));
      tb.appendChild(row);
    });
  }

  function renderForecast(doc) {
    var note = $('forecast-note');
    var eps = doc && Array.isArray(doc.endpoints) ? doc.endpoints : [];
    if (!eps.length || !eps[0].points.length) {
      note.textContent = doc ? 'No traffic to forecast.' : 'Forecast unavailable.';
      if (charts['chart-forecast']) {
        charts['chart-forecast'].destroy();
        delete charts['chart-forecast'];
      }
      return;
    }
    note.textContent = 'Requests per hour for the next ' +
      Math.round(doc.horizon_hours / 24) + ' days, with the ' +
      Math.round(eps[0].band * 100) + '% band (' + eps[0].method.replace(/_/g, ' ') +
      ' over ' + eps[0].history_hours + ' hours of history).';
    var labels = eps[0].points.map(function (p) { return shortTime(p.t, 7 * 86400e3); });
    var sets = [];
    eps.forEach(function (e, i) {
      var c = PALETTE[i % PALETTE.length];
      sets.push({ label: e.endpoint + ' (low)', data: e.points.map(function (p) {
        return p.low; }), borderColor: 'transparent', pointRadius: 0, fill: false });
      sets.push({ label: e.endpoint + ' (80% band)', data: e.points.map(function (p) {
        return p.high; }), borderColor: 'transparent', backgroundColor: c + '33',
        pointRadius: 0, fill: '-1' });
      sets.push({ label: e.endpoint, data: e.points.map(function (p) {
        return p.expected; }), borderColor: c, backgroundColor: c, pointRadius: 0,
        fill: false, tension: 0.2 });
    });
    chart('chart-forecast', {
      type: 'line',
      data: { labels: labels, datasets: sets },
      options: { plugins: { legend: { labels: { filter: function (item) {
        return !/\((low)\)$/.test(item.text); } } } },
        scales: { y: { beginAtZero: true } } }
    });
  }

  function renderFeatureStats(doc) {
    var fr = doc.feature_requests || {};
    setNum($('fr-new'), fr.new);
    setNum($('fr-votes'), fr.votes);
    setNum($('fr-status-changes'), fr.status_changes);
  }

  function renderRanking(list) {
    var ol = $('fr-ranking');
    clear(ol);
    var items = list && Array.isArray(list.items) ? list.items : [];
    if (!items.length) {
      ol.appendChild(el('li', { class: 'empty' }, list ? 'No feature requests.'
        : 'Ranking unavailable.'));
      return;
    }
    items.forEach(function (r) {
      var li = el('li', { 'data-id': r.id });
      li.appendChild(el('span', { class: 'request-title' }, r.title));
      li.appendChild(el('span', { class: 'votes' }, ' — ' + fmtNum(r.votes) +
        (r.votes === 1 ? ' vote' : ' votes') + ', ' + (r.status || '')));
      ol.appendChild(li);
    });
  }

  function renderSdk(doc) {
    var dl = $('sdk-stats');
    clear(dl);
    var sdk = doc.sdk || {};
    Object.keys(sdk).forEach(function (k) {
      if (typeof sdk[k] !== 'number') return;
      var d = el('div');
      d.appendChild(el('dt', {}, k.replace(/_/g, ' ')));
      var dd = el('dd', { 'data-field': k });
      setNum(dd, sdk[k]);
      d.appendChild(dd);
      dl.appendChild(d);
    });
  }

  /* Sections other parts of the server add over time (tiers, environments,
   * anomalies, workflows, ...): a generic table per array of objects, a
   * list of numbers per object. Absent sections are simply not shown. */
  var EXTRA = [['tiers', 'Access tiers'],
    ['environments', 'Environments'], ['workflows', 'Common workflows'],
    ['server', 'Server performance']];

  function cellText(v) {
    if (v === null || v === undefined) return '–';
    if (Array.isArray(v)) return v.map(cellText).join(' → ');
    if (typeof v === 'object') {
      return Object.keys(v).map(function (k) {
        return k + ': ' + cellText(v[k]); }).join(', ');
    }
    if (typeof v === 'number') return fmtNum(v);
    return String(v);
  }

  function genericTable(rows, caption) {
    var cols = [];
    rows.forEach(function (r) {
      Object.keys(r).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); });
    });
    var t = el('table');
    t.appendChild(el('caption', { class: 'sr-only' }, caption));
    var tr = el('tr');
    cols.forEach(function (c) {
      tr.appendChild(el('th', { scope: 'col' }, c.replace(/_/g, ' ')));
    });
    var thead = el('thead');
    thead.appendChild(tr);
    t.appendChild(thead);
    var tb = el('tbody');
    rows.slice(0, 25).forEach(function (r) {
      var row = el('tr');
      cols.forEach(function (c) {
        row.appendChild(el('td', typeof r[c] === 'number' ? { class: 'n' } : {},
          cellText(r[c])));
      });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    var wrap = el('div', { class: 'table-wrap' });
    wrap.appendChild(t);
    return wrap;
  }

  function genericBlock(parent, value, title, level) {
    if (Array.isArray(value)) {
      var objs = value.filter(function (x) { return x && typeof x === 'object'; });
      if (!value.length) parent.appendChild(el('p', { class: 'empty' }, 'None.'));
      else if (objs.length === value.length) parent.appendChild(genericTable(value, title));
      else parent.appendChild(el('p', {}, cellText(value)));
      return;
    }
    if (value && typeof value === 'object') {
      var dl = el('dl', { class: 'stats' });
      var nested = [];
      Object.keys(value).forEach(function (k) {
        var v = value[k];
        if (v !== null && typeof v === 'object') { nested.push(k); return; }
        var d = el('div');
        d.appendChild(el('dt', {}, k.replace(/_/g, ' ')));
        d.appendChild(el('dd', {}, cellText(v)));
        dl.appendChild(d);
      });
      if (dl.firstChild) parent.appendChild(dl);
      nested.forEach(function (k) {
        parent.appendChild(el('h' + Math.min(level + 1, 6), {}, k.replace(/_/g, ' ')));
        genericBlock(parent, value[k], title + ': ' + k, level + 1);
      });
      return;
    }
    parent.appendChild(el('p', {}, cellText(value)));
  }

  function renderExtra(doc) {
    var box = $('extra');
    clear(box);
    EXTRA.forEach(function (s) {
      if (doc[s[0]] === undefined || doc[s[0]] === null) return;
      var id = 'extra-' + s[0];
      var sec = el('section', { id: 'section-' + s[0], 'aria-labelledby': id });
      sec.appendChild(el('h2', { id: id }, s[1]));
      genericBlock(sec, doc[s[0]], s[1], 2);
      box.appendChild(sec);
    });
    // tiers seen in the data feed the tier filter's suggestions
    var tl = $('tier-list');
    clear(tl);
    var tiers = Array.isArray(doc.tiers) ? doc.tiers : [];
    tiers.forEach(function (t) {
      var name = t && typeof t === 'object' ? (t.tier || t.access_tier || t.name) : t;
      if (typeof name === 'string' && name) tl.appendChild(el('option', { value: name }));
    });
  }

  function render(doc, f) {
    doc = doc || {};
    var t = doc.totals || {};
    setNum($('total-events'), t.events);
    setNum($('total-errors'), t.errors);
    setNum($('total-feedback'), t.feedback);
    setNum($('total-feature-requests'), t.feature_requests);
    var range = doc.range || {};
    var r = $('range');
    r.setAttribute('data-from', f.from);
    r.setAttribute('data-to', f.to);
    r.setAttribute('data-environment', range.environment || f.environment);
    r.textContent = fmtTime(range.from || f.from) + ' – ' +
      fmtTime(range.to || f.to) + ', ' + (range.environment || f.environment) +
      (f.tier ? ', tier ' + f.tier : '');
    renderTraffic(doc, f);
    renderEndpoints(doc);
    renderErrors(doc);
    renderFeedback(doc);
    renderFeatureStats(doc);
    renderSdk(doc);
    renderExtra(doc);
  }

  // ---- wiring -------------------------------------------------------------

  function init() {
    if (typeof window.Chart === 'undefined')
      status('The chart library did not load: charts are not shown.', true);
    $('token-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var t = $('token').value.trim();
      if (!t) { showLogin('Enter the admin token.'); return; }
      setToken(t);
      $('token').value = '';
      load().then(function () {
        if (!$('dash').hidden) $('window').focus();
      });
    });
    $('filters').addEventListener('submit', function (ev) {
      ev.preventDefault();
      load();
    });
    ['window', 'environment', 'tier'].forEach(function (id) {
      $(id).addEventListener('change', function () { load(); });
    });
    $('live').addEventListener('change', schedule);
    $('interval').addEventListener('change', schedule);
    $('refresh').addEventListener('click', function () { load(); });
    $('signout').addEventListener('click', function () {
      setToken('');
      showLogin('');
      status('Token forgotten.');
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) schedule();
    });
    if (currentToken()) {
      showDash();
      load();
    } else {
      showLogin('');
    }
  }

  if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', init);
  else
    init();
}());
