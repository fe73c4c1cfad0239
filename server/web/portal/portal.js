/* The developer portal: a feedback form and a feature-request board that a
 * vendor embeds in an iframe. Talks only to the same-origin JSON routes with
 * the publishable key from the page address (?key=tlm_pub_...). Renders
 * every server string with textContent, never as HTML. */
(function () {
  'use strict';

  var STATUS_LABELS = {
    submitted: 'Submitted',
    under_review: 'Under review',
    planned: 'Planned',
    in_progress: 'In progress',
    completed: 'Completed',
    declined: 'Declined'
  };
  var PAGE_SIZE = 20;

  var key = new URLSearchParams(window.location.search).get('key') || '';
  /* The API is the parent of /portal/ (works behind a path prefix too). */
  var apiBase = new URL('../', window.location.href);

  function $(id) {
    return document.getElementById(id);
  }

  /* ---- storage and identity ------------------------------------------ */

  var memoryStore = {};

  function storeGet(name) {
    try {
      var v = window.localStorage.getItem(name);
      if (v !== null) {
        return v;
      }
    } catch (e) {
      /* blocked (third-party storage, private mode): memory only */
    }
    return Object.prototype.hasOwnProperty.call(memoryStore, name)
      ? memoryStore[name] : null;
  }

  function storeSet(name, value) {
    memoryStore[name] = value;
    try {
      window.localStorage.setItem(name, value);
    } catch (e) {
      /* kept in memory for this page load */
    }
  }

  function randomHex(bytes) {
    var a = new Uint8Array(bytes);
    var s = '';
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(a);
    } else {
      for (var j = 0; j < bytes; j++) {
        a[j] = Math.floor(Math.random() * 256);
      }
    }
    for (var i = 0; i < a.length; i++) {
      s += (a[i] < 16 ? '0' : '') + a[i].toString(16);
    }
    return s;
  }

  /* One anonymous voter id per browser (per page load without storage). */
  function userId() {
    var id = storeGet('tlm-portal:user_id');
    if (id === null || !/^[0-9a-f]{32}$/.test(id)) {
      id = randomHex(16);
      storeSet('tlm-portal:user_id', id);
    }
    return id;
  }

  function votedIds() {
    try {
      var list = JSON.parse(storeGet('tlm-portal:voted') || '[]');
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  function setVoted(id, voted) {
    var list = votedIds().filter(function (x) { return x !== id; });
    if (voted) {
      list.push(id);
    }
    storeSet('tlm-portal:voted', JSON.stringify(list.slice(-500)));
  }

  /* ---- the API -------------------------------------------------------- */

  function ApiError(status, message, data) {
    this.status = status;
    this.message = message;
    this.data = data || {};
  }

  function api(method, path, body, idempotencyKey) {
    var headers = {
      'Authorization': 'Bearer ' + key,
      'Accept': 'application/json'
    };
    var init = {
      method: method,
      headers: headers,
      credentials: 'omit',
      cache: 'no-store',
      /* not no-referrer: that makes a POST's Origin "null" */
      referrerPolicy: 'strict-origin'
    };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (idempotencyKey) {
      headers['Idempotency-Key'] = idempotencyKey;
    }
    return fetch(new URL(path, apiBase).toString(), init).then(
      function (res) {
        return res.json().catch(function () { return null; }).then(
          function (data) {
            if (!res.ok) {
              throw new ApiError(res.status, (data && data.error)
                || 'The server answered with status ' + res.status + '.',
                data);
            }
            return data;
          });
      },
      function () {
        throw new ApiError(0, 'The server could not be reached. Check ' +
          'your connection and try again.');
      });
  }

  /* ---- small DOM helpers ---------------------------------------------- */

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    return e;
  }

  function announce(region, parts, isError) {
    region.textContent = '';
    region.classList.toggle('error', !!isError);
    parts.forEach(function (p) {
      region.appendChild(typeof p === 'string' ? el('p', null, p) : p);
    });
  }

  function describedBy(field, id, add) {
    var ids = (field.getAttribute('aria-describedby') || '').split(/\s+/)
      .filter(function (x) { return x && x !== id; });
    if (add) {
      ids.push(id);
    }
    if (ids.length) {
      field.setAttribute('aria-describedby', ids.join(' '));
    } else {
      field.removeAttribute('aria-describedby');
    }
  }

  function showFieldError(field, message) {
    var err = $(field.id + '-error');
    if (!err) {
      return;
    }
    err.textContent = message;
    err.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    describedBy(field, err.id, true);
  }

  function clearFieldErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll('[aria-invalid]'),
      function (f) {
        f.removeAttribute('aria-invalid');
        describedBy(f, f.id + '-error', false);
      });
    Array.prototype.forEach.call(form.querySelectorAll('.field-error'),
      function (e) {
        e.textContent = '';
        e.hidden = true;
      });
  }

  /* Marks the fields the server named (field, or missing[]) and focuses
   * the first; returns whether any was found. */
  function markErrors(fieldIds, err) {
    var names = [];
    var first = null;
    if (Array.isArray(err.data.missing)) {
      names = err.data.missing.slice();
    } else if (typeof err.data.field === 'string') {
      names = [err.data.field];
    }
    names.forEach(function (name) {
      var short = String(name).replace(/^issue\./, '');
      var field = $(fieldIds[name] || fieldIds[short] || '');
      if (!field) {
        return;
      }
      showFieldError(field, Array.isArray(err.data.missing)
        ? 'Required.' : err.message);
      if (!first) {
        first = field;
      }
    });
    if (first) {
      var target = first.tagName === 'FIELDSET'
        ? first.querySelector('input') : first;
      target.focus();
    }
    return first !== null;
  }

  function sentimentWord(s) {
    if (s >= 0.1) {
      return 'positive';
    }
    if (s <= -0.1) {
      return 'negative';
    }
    return 'neutral';
  }

  function formatDate(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  /* Guards a form against double submission while a request runs. */
  function setBusy(button, busy) {
    button.setAttribute('aria-disabled', busy ? 'true' : 'false');
    button.classList.toggle('busy', busy);
  }

  /* ---- feedback form -------------------------------------------------- */

  var FEEDBACK_FIELDS = {
    feedback_type: 'fb-type',
    content: 'fb-content',
    category: 'fb-category',
    rating: 'fb-rating',
    issue: 'fb-summary',
    summary: 'fb-summary',
    steps_to_reproduce: 'fb-steps',
    expected: 'fb-expected',
    actual: 'fb-actual'
  };

  var feedbackIdempotency = null;
  var feedbackBusy = false;

  function syncFeedbackType() {
    var type = $('fb-type').value;
    $('fb-rating').hidden = type !== 'rating';
    $('fb-issue').hidden = type !== 'issue';
  }

  function feedbackBody() {
    var type = $('fb-type').value;
    var body = {
      feedback_type: type,
      content: $('fb-content').value,
      user_id: userId(),
      context: { source: 'developer-portal' }
    };
    var category = $('fb-category').value;
    var rating = document.querySelector('#fb-rating input:checked');
    if (category) {
      body.category = category;
    }
    if (type === 'rating' && rating) {
      body.rating = parseInt(rating.value, 10);
    }
    if (type === 'issue') {
      body.issue = {
        summary: $('fb-summary').value,
        steps_to_reproduce: $('fb-steps').value,
        expected: $('fb-expected').value,
        actual: $('fb-actual').value
      };
    }
    return body;
  }

  function feedbackThanks(fb) {
    var p = el('p', 'thanks', 'Thanks! Your feedback was received.');
    var dl = el('dl', 'result');
    var catText = fb.category
      ? fb.category + (fb.category_source === 'submitter'
        ? ' (as you chose)' : ' (assigned automatically)')
      : 'none';
    var sentiment = typeof fb.sentiment === 'number'
      ? sentimentWord(fb.sentiment) + ' (' + fb.sentiment.toFixed(2) + ')'
      : 'not scored';
    var rows = [['Category', catText, 'category'],
      ['Sentiment', sentiment, 'sentiment'],
      ['Reference', fb.id, 'id']];
    rows.forEach(function (r) {
      var dd = el('dd', null, r[1]);
      dd.setAttribute('data-field', r[2]);
      if (r[2] === 'category') {
        dd.setAttribute('data-value', fb.category || '');
      } else if (r[2] === 'sentiment') {
        dd.setAttribute('data-value', String(fb.sentiment));
      }
      dl.appendChild(el('dt', null, r[0]));
      dl.appendChild(dd);
    });
    return [p, dl];
  }

  function submitFeedback(ev) {
    var form = $('fb-form');
    var live = $('fb-live');
    ev.preventDefault();
    if (feedbackBusy) {
      return;
    }
    clearFieldErrors(form);
    if (!feedbackIdempotency) {
      feedbackIdempotency = 'portal-fb-' + randomHex(16);
    }
    feedbackBusy = true;
    setBusy($('fb-submit'), true);
    announce(live, ['Sending your feedback…']);
    api('POST', 'feedback', feedbackBody(), feedbackIdempotency)
      .then(function (fb) {
        feedbackIdempotency = null;
        form.reset();
        syncFeedbackType();
        announce(live, feedbackThanks(fb));
      }, function (err) {
        markErrors(FEEDBACK_FIELDS, err);
        announce(live, ['Your feedback was not sent: ' + err.message], true);
      })
      .then(function () {
        feedbackBusy = false;
        setBusy($('fb-submit'), false);
      });
  }

  /* ---- feature-request board ------------------------------------------ */

  var REQUEST_FIELDS = {
    title: 'fr-new-title',
    description: 'fr-new-description',
    use_case: 'fr-new-use-case'
  };

  var board = { cursor: null, loading: 0, items: {} };
  var requestIdempotency = null;
  var requestBusy = false;

  function statusBadge(status) {
    var b = el('span', 'badge status-' + String(status).replace(/_/g, '-'),
      STATUS_LABELS[status] || status);
    return b;
  }

  function voteWord(n) {
    return n === 1 ? 'vote' : 'votes';
  }

  function setCount(li, n) {
    li.querySelector('.vote-count .n').textContent = String(n);
    li.querySelector('.vote-count .w').textContent = voteWord(n);
  }

  function setPressed(button, voted) {
    button.setAttribute('aria-pressed', voted ? 'true' : 'false');
  }

  function renderItem(item) {
    var li = el('li', 'request');
    var main = el('div', 'request-main');
    var h = el('h3', 'request-title');
    var toggle = el('button', 'link', item.title);
    var side = el('div', 'request-vote');
    var count = el('span', 'vote-count');
    var vote = el('button', 'vote');
    var history = el('div', 'history');
    var hid = 'hist-' + item.id;
    var cid = 'count-' + item.id;

    li.setAttribute('data-id', item.id);
    toggle.type = 'button';
    toggle.setAttribute('aria-expanded', 'false');
    toggle.setAttribute('aria-controls', hid);
    toggle.addEventListener('click', function () { toggleHistory(li); });
    h.appendChild(toggle);
    main.appendChild(h);
    main.appendChild(statusBadge(item.status));
    if (item.description) {
      main.appendChild(el('p', 'request-description', item.description));
    }

    count.id = cid;
    count.appendChild(el('span', 'n', item.votes));
    count.appendChild(document.createTextNode(' '));
    count.appendChild(el('span', 'w', voteWord(item.votes)));
    vote.type = 'button';
    vote.setAttribute('aria-describedby', cid);
    if (item.voting_open === false) {
      vote.textContent = 'Voting closed';
      vote.disabled = true;
      setPressed(vote, votedIds().indexOf(item.id) >= 0);
    } else {
      vote.textContent = 'Vote';
      vote.appendChild(el('span', 'sr-only', ' for ' + item.title));
      setPressed(vote, votedIds().indexOf(item.id) >= 0);
      vote.addEventListener('click', function () { toggleVote(li, vote); });
    }
    side.appendChild(count);
    side.appendChild(vote);

    history.id = hid;
    history.hidden = true;
    li.appendChild(main);
    li.appendChild(side);
    li.appendChild(history);
    board.items[item.id] = li;
    return li;
  }

  function listQuery(cursor) {
    var q = new URLSearchParams();
    q.set('sort', $('fr-sort').value);
    if ($('fr-status').value) {
      q.set('status', $('fr-status').value);
    }
    q.set('limit', String(PAGE_SIZE));
    if (cursor) {
      q.set('cursor', cursor);
    }
    return 'feature-requests?' + q.toString();
  }

  /* Loads the first page (reset) or the next one; resolves to the items. */
  function loadRequests(reset) {
    var list = $('fr-list');
    var ticket = ++board.loading;
    list.setAttribute('aria-busy', 'true');
    return api('GET', listQuery(reset ? null : board.cursor))
      .then(function (page) {
        if (ticket !== board.loading) {
          return [];
        }
        if (reset) {
          list.textContent = '';
          board.items = {};
        }
        (page.items || []).forEach(function (item) {
          if (!board.items[item.id]) {
            list.appendChild(renderItem(item));
          }
        });
        board.cursor = page.next_cursor || null;
        $('fr-more').hidden = !board.cursor;
        $('fr-empty').hidden = list.children.length > 0;
        return page.items || [];
      }, function (err) {
        announce($('fr-live'), ['Could not load the feature requests: ' +
          err.message], true);
        return [];
      })
      .then(function (items) {
        if (ticket === board.loading) {
          list.setAttribute('aria-busy', 'false');
        }
        return items;
      });
  }

  function toggleVote(li, button) {
    var id = li.getAttribute('data-id');
    var voted = button.getAttribute('aria-pressed') === 'true';
    var title = li.querySelector('.request-title button').textContent;
    if (button.classList.contains('busy')) {
      return;
    }
    setBusy(button, true);
    api(voted ? 'DELETE' : 'PUT',
      'feature-requests/' + encodeURIComponent(id) + '/vote',
      { user_id: userId() })
      .then(function (res) {
        setVoted(id, res.voted);
        setPressed(button, res.voted);
        if (res.id && res.id !== id) {
          /* merged: the vote went to the request this one joined */
          setVoted(res.id, res.voted);
          announce($('fr-live'), ['"' + title + '" was merged into another ' +
            'request; your vote counts there (' + res.votes + ' ' +
            voteWord(res.votes) + ').']);
          loadRequests(true);
          return;
        }
        setCount(li, res.votes);
        announce($('fr-live'), [(res.voted ? 'Vote recorded for "'
          : 'Vote withdrawn from "') + title + '": ' + res.votes + ' ' +
          voteWord(res.votes) + '.']);
      }, function (err) {
        if (err.status === 409) {
          button.disabled = true;
          button.textContent = 'Voting closed';
        }
        announce($('fr-live'), ['Your vote was not recorded: ' +
          err.message], true);
      })
      .then(function () { setBusy(button, false); });
  }

  function renderHistory(box, fr) {
    var ol = el('ol', 'timeline');
    box.textContent = '';
    if (fr.use_case) {
      box.appendChild(el('h4', null, 'Use case'));
      box.appendChild(el('p', 'use-case', fr.use_case));
    }
    box.appendChild(el('h4', null, 'Status history'));
    (fr.status_history || []).forEach(function (h) {
      var li = el('li');
      var t = el('time', null, formatDate(h.at));
      t.setAttribute('datetime', h.at);
      li.appendChild(statusBadge(h.status));
      li.appendChild(document.createTextNode(' '));
      li.appendChild(t);
      if (h.previous_status) {
        li.appendChild(el('span', 'from', ' (was ' +
          (STATUS_LABELS[h.previous_status] || h.previous_status) + ')'));
      }
      if (h.reason) {
        li.appendChild(el('p', 'reason', h.reason));
      }
      ol.appendChild(li);
    });
    box.appendChild(ol);
    if (fr.merged_into) {
      box.appendChild(el('p', 'hint', 'Merged into another request: ' +
        'votes for this one count there.'));
    }
  }

  function toggleHistory(li) {
    var button = li.querySelector('.request-title button');
    var box = li.querySelector('.history');
    var id = li.getAttribute('data-id');
    if (button.getAttribute('aria-expanded') === 'true') {
      button.setAttribute('aria-expanded', 'false');
      box.hidden = true;
      return;
    }
    button.setAttribute('aria-expanded', 'true');
    box.hidden = false;
    box.textContent = 'Loading the status history…';
    api('GET', 'feature-requests/' + encodeURIComponent(id))
      .then(function (fr) {
        renderHistory(box, fr);
        setCount(li, fr.votes);
      }, function (err) {
        box.textContent = 'Could not load the status history: ' +
          err.message;
      });
  }

  function submitRequest(ev) {
    var form = $('fr-form');
    ev.preventDefault();
    if (requestBusy) {
      return;
    }
    clearFieldErrors(form);
    if (!requestIdempotency) {
      requestIdempotency = 'portal-fr-' + randomHex(16);
    }
    requestBusy = true;
    setBusy($('fr-submit'), true);
    announce($('fr-live'), ['Submitting your request…']);
    api('POST', 'feature-requests', {
      title: $('fr-new-title').value,
      description: $('fr-new-description').value,
      use_case: $('fr-new-use-case').value,
      user_id: userId()
    }, requestIdempotency)
      .then(function (fr) {
        requestIdempotency = null;
        form.reset();
        return loadRequests(true).then(function () {
          var li = board.items[fr.id];
          if (!li) {
            li = renderItem(fr);
            $('fr-list').insertBefore(li, $('fr-list').firstChild);
            $('fr-empty').hidden = true;
          }
          li.classList.add('new');
          announce($('fr-live'), ['Thanks! "' + fr.title + '" was added ' +
            'with status ' + (STATUS_LABELS[fr.status] || fr.status) + '.']);
        });
      }, function (err) {
        markErrors(REQUEST_FIELDS, err);
        announce($('fr-live'), ['Your request was not submitted: ' +
          err.message], true);
      })
      .then(function () {
        requestBusy = false;
        setBusy($('fr-submit'), false);
      });
  }

  /* ---- start ---------------------------------------------------------- */

  function start() {
    if (!/^tlm_pub_/.test(key)) {
      $('key-warning').hidden = false;
      ['fb-submit', 'fr-submit'].forEach(function (id) {
        $(id).disabled = true;
      });
      document.documentElement.setAttribute('data-ready', 'true');
      return;
    }
    $('fb-type').addEventListener('change', syncFeedbackType);
    $('fb-form').addEventListener('submit', submitFeedback);
    $('fb-form').addEventListener('input', function () {
      feedbackIdempotency = null; /* edited: a new submission */
    });
    $('fr-form').addEventListener('submit', submitRequest);
    $('fr-form').addEventListener('input', function () {
      requestIdempotency = null;
    });
    $('fr-controls').addEventListener('submit', function (ev) {
      ev.preventDefault();
    });
    $('fr-sort').addEventListener('change', function () {
      loadRequests(true);
    });
    $('fr-status').addEventListener('change', function () {
      loadRequests(true);
    });
    $('fr-more').addEventListener('click', function () {
      loadRequests(false);
    });
    syncFeedbackType();
    loadRequests(true).then(function () {
      document.documentElement.setAttribute('data-ready', 'true');
    });
  }

  start();
}());
